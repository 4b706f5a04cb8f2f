-- Member contributions wait in one moderation queue per community.
CREATE TABLE suggestion (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('resource', 'term', 'prompt', 'question')),
    payload      TEXT NOT NULL,          -- JSON: what was suggested
    url_key      TEXT,                   -- resources: the normalized link, for duplicates
    author_id    TEXT,                   -- NULL for anonymous questions and after "forget me"
    author_hash  TEXT NOT NULL,          -- keyed hash of the member: limits and blocks only
    platform     TEXT NOT NULL,
    room_id      TEXT NOT NULL,          -- where it was suggested (anonymous answers go there)
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'rejected')),
    reason       TEXT,
    decided_by   TEXT,
    decided_at   TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX suggestion_queue ON suggestion (community_id, status, id);
CREATE INDEX suggestion_by_author ON suggestion (community_id, author_hash, created_at);
CREATE INDEX suggestion_by_link ON suggestion (community_id, url_key);

CREATE TABLE suggester_block (
    community_id TEXT NOT NULL,
    author_hash  TEXT NOT NULL,
    blocked_by   TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (community_id, author_hash)
);

-- Who approved, rejected or blocked what, and when.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       TEXT,
    at           TEXT NOT NULL
);
CREATE INDEX audit_by_community ON audit (community_id, id);

-- Approved contributions.
CREATE TABLE community_resource (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    url          TEXT NOT NULL,
    url_key      TEXT NOT NULL,
    title        TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',
    added_at     TEXT NOT NULL,
    UNIQUE (community_id, url_key)
);
CREATE TABLE community_term (
    id           INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    term         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    added_at     TEXT NOT NULL
);
CREATE INDEX community_term_by_community ON community_term (community_id);

-- A member's private journal of answers to the day's reflection.
CREATE TABLE journal (
    id            INTEGER PRIMARY KEY,
    community_id  TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    day           TEXT NOT NULL,
    reflection_id TEXT NOT NULL,
    text          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX journal_by_member ON journal (member_id, id);

-- Private messages for a member (the outcome of a suggestion), kept until read or forgotten.
CREATE TABLE notice (
    id           INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    community_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX notice_by_member ON notice (member_id, id);
