-- Discussion prompts a community added itself (shipped prompts stay in content/).
CREATE TABLE prompt (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    title        TEXT NOT NULL,
    text         TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',   -- space-separated slugs
    author_id    TEXT,
    created_at   TEXT NOT NULL,
    removed_at   TEXT
);
CREATE INDEX prompt_by_community ON prompt (community_id, removed_at);

-- Which prompts a community's scheduled discussions have used ("next" takes an unused one).
-- prompt_ref is "s:<slug>" for a shipped prompt, "c:<id>" for a community prompt.
CREATE TABLE prompt_use (
    community_id TEXT NOT NULL,
    prompt_ref   TEXT NOT NULL,
    used_at      TEXT NOT NULL,
    PRIMARY KEY (community_id, prompt_ref)
);

-- A planned, possibly recurring post: a reflection or a discussion thread.
CREATE TABLE schedule (
    id            INTEGER PRIMARY KEY,
    community_id  TEXT NOT NULL,
    platform      TEXT NOT NULL,
    room_id       TEXT NOT NULL,
    thread_id     TEXT,
    kind          TEXT NOT NULL,             -- reflection | discussion | ...
    rule          TEXT NOT NULL CHECK (rule IN ('once', 'daily', 'weekly')),
    days          TEXT NOT NULL DEFAULT '',  -- weekly: "0,3" (Monday = 0)
    start_date    TEXT NOT NULL,             -- YYYY-MM-DD, local
    at_time       TEXT NOT NULL,             -- HH:MM, local
    timezone      TEXT NOT NULL,
    payload       TEXT NOT NULL DEFAULT '',  -- kind-specific: a prompt ref, "next", ...
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'paused', 'done', 'cancelled')),
    status_reason TEXT,
    next_run      TEXT,                      -- UTC ISO-8601 of the next occurrence
    grace_seconds INTEGER,                   -- NULL: the configured default
    created_by    TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX schedule_due ON schedule (status, next_run);
CREATE INDEX schedule_by_community ON schedule (community_id, status);

-- One occurrence of a schedule: claimed before it is sent, marked sent after.
CREATE TABLE occurrence (
    key         TEXT PRIMARY KEY,            -- the idempotency key handed to the adapter
    schedule_id INTEGER NOT NULL REFERENCES schedule (id) ON DELETE CASCADE,
    due_at      TEXT NOT NULL,               -- UTC ISO-8601
    state       TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'skipped', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_at    TEXT,                        -- UTC ISO-8601; NULL while in flight
    detail      TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX occurrence_retry ON occurrence (state, retry_at);
CREATE INDEX occurrence_by_schedule ON occurrence (schedule_id, due_at);
