-- Events members RSVP to, the community's calendar feed, and polls.

-- A meeting: one-off or recurring (the schedule's rule), in its community's time zone.
CREATE TABLE event (
    id            INTEGER PRIMARY KEY,
    community_id  TEXT NOT NULL,
    platform      TEXT NOT NULL,
    room_id       TEXT NOT NULL,
    title         TEXT NOT NULL,
    location      TEXT NOT NULL DEFAULT '',  -- a link, a channel, "here": shown as typed
    rule          TEXT NOT NULL CHECK (rule IN ('once', 'daily', 'weekly')),
    days          TEXT NOT NULL DEFAULT '',  -- weekly: "0,3" (Monday = 0)
    start_date    TEXT NOT NULL,             -- YYYY-MM-DD, local
    at_time       TEXT NOT NULL,             -- HH:MM, local
    timezone      TEXT NOT NULL,
    minutes       INTEGER NOT NULL DEFAULT 60,  -- how long it lasts
    status        TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'cancelled')),
    sequence      INTEGER NOT NULL DEFAULT 0,   -- iCalendar SEQUENCE: one more per change
    reminders     TEXT NOT NULL DEFAULT '',     -- its reminder schedules' ids: "12,13"
    created_by    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX event_by_community ON event (community_id, status);

-- One answer per member and event; the latest counts.
CREATE TABLE event_rsvp (
    event_id   INTEGER NOT NULL REFERENCES event (id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    answer     TEXT NOT NULL CHECK (answer IN ('yes', 'maybe', 'no')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (event_id, member_id)
);
CREATE INDEX event_rsvp_by_member ON event_rsvp (member_id);

-- The private notice one scheduled occurrence (a reminder, a change) wrote for a member:
-- a resend after a crash finds it instead of writing a second one.
CREATE TABLE event_notice (
    occurrence_key TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    notice_id      INTEGER NOT NULL,
    PRIMARY KEY (occurrence_key, member_id)
);

-- Per-community settings of events and polls.
CREATE TABLE event_setting (
    community_id TEXT PRIMARY KEY,
    reminders    TEXT NOT NULL DEFAULT '1440,15',  -- minutes before, "" for none
    member_polls INTEGER NOT NULL DEFAULT 0         -- 1: members may start polls
);

-- A community's calendar feed. Its link's token is derived from the bot's key file and the
-- salt (so the bot can show it again); the database keeps only the token's sha256.
CREATE TABLE calendar_feed (
    community_id TEXT PRIMARY KEY,
    salt         TEXT NOT NULL,              -- random; `calendar reset` replaces it
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);

-- A poll; its answers are a JSON array of texts, numbered from 1.
CREATE TABLE poll (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    platform     TEXT NOT NULL,
    room_id      TEXT NOT NULL,
    question     TEXT NOT NULL,
    options      TEXT NOT NULL,
    closes_at    TEXT NOT NULL,                 -- UTC ISO-8601
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_by   TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX poll_by_room ON poll (platform, room_id, status);

-- One vote per member and poll (from `vote` or the platform's own poll); the latest counts.
CREATE TABLE poll_vote (
    poll_id   INTEGER NOT NULL REFERENCES poll (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    choice    INTEGER NOT NULL,  -- 1-based
    voted_at  TEXT NOT NULL,
    PRIMARY KEY (poll_id, member_id)
);
CREATE INDEX poll_vote_by_member ON poll_vote (member_id);
