-- What a poll decides besides its result, when a command made it for a purpose (JSON): an
-- event's meeting time (`event plan ... poll`), a club's next book (`bookclub vote`). Acted on
-- in the same transaction that closes the poll, so it happens once.
ALTER TABLE poll ADD COLUMN purpose TEXT;
