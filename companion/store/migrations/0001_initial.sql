-- Communities and their settings (a Discord guild, a Matrix room, the console).
CREATE TABLE community (
    community_id TEXT PRIMARY KEY,
    timezone     TEXT
);

-- Which reflection question a community got on which local day. The rotation reads its
-- history from here, so it survives restarts and content edits (ids never change).
CREATE TABLE reflection_day (
    community_id  TEXT NOT NULL,
    day           TEXT NOT NULL,          -- YYYY-MM-DD in the community's time zone
    reflection_id TEXT NOT NULL,
    PRIMARY KEY (community_id, day)
);
CREATE INDEX reflection_day_by_question ON reflection_day (community_id, reflection_id);

-- Small values adapters keep between runs (the Matrix sync token, ...).
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
