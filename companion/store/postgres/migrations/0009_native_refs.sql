-- The same as SQLite's 0012_native_refs.sql: where a poll or an event lives on its platform
-- when the bot opened it natively (a Matrix poll's m.poll.start event, an event's
-- announcement members react to, a Discord poll message or Guild Scheduled Event).
ALTER TABLE poll ADD COLUMN native_ref TEXT;
ALTER TABLE event ADD COLUMN native_ref TEXT;       -- the announcement members react to
ALTER TABLE event ADD COLUMN native_event TEXT;     -- a platform's scheduled event
CREATE INDEX poll_by_native_ref ON poll (community_id, platform, native_ref);
CREATE INDEX event_by_native_ref ON event (community_id, platform, native_ref);
CREATE INDEX event_by_native_event ON event (community_id, platform, native_event);
