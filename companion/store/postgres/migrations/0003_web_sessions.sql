-- The same tables as SQLite's 0005_web_sessions.sql. The web dashboard: one-time login
-- links and the sessions they open. Only the sha256 of a link's token or a session's
-- cookie is stored, so a copy of the database holds nothing a browser could present.
CREATE TABLE web_login (
    token_hash   TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    community_id TEXT NOT NULL,
    room_id      TEXT NOT NULL,          -- where the link was asked for: web actions act there
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX web_login_expiry ON web_login (expires_at);

CREATE TABLE web_session (
    session_hash TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX web_session_expiry ON web_session (expires_at);

-- The communities a session reaches: those where the member was a moderator at login.
CREATE TABLE web_session_community (
    session_hash TEXT NOT NULL REFERENCES web_session (session_hash) ON DELETE CASCADE,
    community_id TEXT NOT NULL,
    room_id      TEXT NOT NULL,
    PRIMARY KEY (session_hash, community_id)
);
