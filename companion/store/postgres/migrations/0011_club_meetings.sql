-- The same as SQLite's 0014_club_meetings.sql: the event planned for each chapter's
-- discussion day of a book club started `with meetings HH:MM`.
CREATE TABLE club_meeting (
    club_id  BIGINT NOT NULL REFERENCES club (id) ON DELETE CASCADE,
    chapter  INTEGER NOT NULL,
    event_id BIGINT NOT NULL REFERENCES event (id) ON DELETE CASCADE,
    PRIMARY KEY (club_id, chapter)
);
