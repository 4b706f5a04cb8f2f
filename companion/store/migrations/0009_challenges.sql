-- Challenges: a community walks a learning path (content/paths.toml) one day at a time.
-- One running challenge per community on a platform; its days post in the room it started in.
CREATE TABLE challenge (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    platform     TEXT NOT NULL,
    room_id      TEXT NOT NULL,
    path_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    days         INTEGER NOT NULL,
    timezone     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'ended')),
    paused_at    TEXT,
    created_by   TEXT,
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX challenge_one_per_community ON challenge (platform, community_id)
    WHERE status != 'ended';

-- Each day's thread ('day') and its evening round of private messages ('tick'): one-off
-- schedules, so the scheduler's guarantees hold. Ticks run past the last day for review.
CREATE TABLE challenge_slot (
    challenge_id INTEGER NOT NULL REFERENCES challenge (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('day', 'tick')),
    day          INTEGER NOT NULL,
    at           TEXT NOT NULL,     -- UTC ISO-8601
    schedule_id  INTEGER REFERENCES schedule (id),
    PRIMARY KEY (challenge_id, kind, day)
);
CREATE INDEX challenge_slot_by_schedule ON challenge_slot (schedule_id);

-- Who joined (private: others see counts only), from which day, and opted-in reminders.
CREATE TABLE challenge_member (
    challenge_id INTEGER NOT NULL REFERENCES challenge (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    joined_day   INTEGER NOT NULL,
    remind       INTEGER NOT NULL DEFAULT 0,
    joined_at    TEXT NOT NULL,
    PRIMARY KEY (challenge_id, member_id)
);

CREATE TABLE challenge_checkin (
    challenge_id INTEGER NOT NULL REFERENCES challenge (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    day          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (challenge_id, member_id, day)
);

-- A nudge or a review question claimed for one member and day, so it goes at most once.
CREATE TABLE challenge_message (
    challenge_id INTEGER NOT NULL REFERENCES challenge (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('nudge', 'review')),
    day          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (challenge_id, member_id, kind, day)
);
