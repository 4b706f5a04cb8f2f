-- The same change as SQLite's 0008_schedule_outbox.sql. The outbox (a one-off post a command
-- makes, such as an approved anonymous question) shares the schedule table, so it is
-- claimed, keyed and retried like any scheduled post; but it is not a schedule a moderator
-- planned: `schedule list`, cancel, pause, resume and the dashboard's calendar read only the
-- rows with outbox = 0. (An integer, as in SQLite, so `db migrate` copies it as it is.)
ALTER TABLE schedule ADD COLUMN outbox INTEGER NOT NULL DEFAULT 0 CHECK (outbox IN (0, 1));
-- Until now only an approved anonymous question went through the outbox.
UPDATE schedule SET outbox = 1 WHERE kind = 'anonymous-question';
