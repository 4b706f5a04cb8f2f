-- Reading plans a community made for its own books (the shipped ones are in content/).
CREATE TABLE reading_plan (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    slug         TEXT NOT NULL,
    title        TEXT NOT NULL,
    chapters     INTEGER NOT NULL CHECK (chapters BETWEEN 1 AND 200),
    created_by   TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (community_id, slug)
);

CREATE TABLE plan_prompt (
    id         INTEGER PRIMARY KEY,
    plan_id    INTEGER NOT NULL REFERENCES reading_plan (id) ON DELETE CASCADE,
    chapter    INTEGER NOT NULL,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX plan_prompt_by_chapter ON plan_prompt (plan_id, chapter);

-- A book club: one per channel/room at a time.
CREATE TABLE club (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    platform     TEXT NOT NULL,
    room_id      TEXT NOT NULL,
    plan_ref     TEXT NOT NULL,            -- "s:<slug>" shipped, "c:<id>" the community's
    title        TEXT NOT NULL,
    chapters     INTEGER NOT NULL,
    timezone     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'ended')),
    paused_at    TEXT,
    created_by   TEXT,
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX club_one_per_room ON club (platform, room_id) WHERE status != 'ended';
CREATE INDEX club_by_community ON club (community_id, status);

-- One discussion per chapter, each posted by its own one-off schedule (and a reminder).
CREATE TABLE club_session (
    club_id              INTEGER NOT NULL REFERENCES club (id) ON DELETE CASCADE,
    chapter              INTEGER NOT NULL,
    opens_at             TEXT NOT NULL,     -- UTC ISO-8601
    state                TEXT NOT NULL DEFAULT 'planned'
                         CHECK (state IN ('planned', 'skipped', 'cancelled')),
    thread_schedule_id   INTEGER REFERENCES schedule (id),
    reminder_schedule_id INTEGER REFERENCES schedule (id),
    PRIMARY KEY (club_id, chapter)
);

-- How far each member has read: private, shown only to that member (counts to others).
CREATE TABLE club_progress (
    club_id    INTEGER NOT NULL REFERENCES club (id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    chapter    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (club_id, member_id)
);
