-- A book club's meetings (`bookclub start ... with meetings HH:MM`): the event planned for
-- each chapter's discussion day, moved or cancelled with the club.
CREATE TABLE club_meeting (
    club_id  INTEGER NOT NULL REFERENCES club (id) ON DELETE CASCADE,
    chapter  INTEGER NOT NULL,
    event_id INTEGER NOT NULL REFERENCES event (id) ON DELETE CASCADE,
    PRIMARY KEY (club_id, chapter)
);
