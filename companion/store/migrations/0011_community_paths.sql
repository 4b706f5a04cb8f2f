-- Spaced review becomes its own opt-in (`challenge review on|off`), apart from the nudges
-- (`challenge remind on|off`). Until now `remind on` turned on both, so every member who had
-- it on keeps both: review starts as a copy of remind.
ALTER TABLE challenge_member ADD COLUMN review INTEGER NOT NULL DEFAULT 0;
UPDATE challenge_member SET review = remind;

-- A community's own learning paths, in the format of content/paths.toml: imported with
-- `content import` or on the dashboard's Challenge page, validated like the shipped ones.
-- One row per path; its days are kept as JSON (the validated [[path.day]] tables).
CREATE TABLE community_path (
    community_id TEXT NOT NULL,
    path_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    summary      TEXT NOT NULL,
    days         TEXT NOT NULL,
    added_at     TEXT NOT NULL,
    PRIMARY KEY (community_id, path_id)
);
