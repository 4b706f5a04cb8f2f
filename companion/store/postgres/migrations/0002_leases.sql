-- Scheduler claims are leases: the process that claimed an occurrence and until when. A claim
-- whose lease ran out (its process died between claim and mark) is taken over and sent again
-- with the same key.
ALTER TABLE occurrence ADD COLUMN claimed_by TEXT;
ALTER TABLE occurrence ADD COLUMN lease_until TEXT;  -- UTC ISO-8601
CREATE INDEX occurrence_lease ON occurrence (state, lease_until);
