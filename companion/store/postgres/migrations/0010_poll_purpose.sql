-- The same as SQLite's 0013_poll_purpose.sql: what a poll decides besides its result (JSON),
-- acted on in the transaction that closes the poll.
ALTER TABLE poll ADD COLUMN purpose TEXT;
