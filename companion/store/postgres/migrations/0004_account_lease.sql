-- The same table as SQLite's 0007_account_lease.sql. One process at a time syncs a chat
-- account (a Matrix user id): the process holding its lease, until lease_until. The holder
-- renews it while it syncs and deletes it on a clean stop; a lease whose holder died runs
-- out, and then another process may take the account.
CREATE TABLE account_lease (
    account     TEXT PRIMARY KEY,   -- "matrix:@bot:example.org"
    holder      TEXT NOT NULL,      -- the process: host:pid
    lease_until TEXT NOT NULL       -- UTC ISO-8601
);
