-- A placeholder: number 5 is taken by a migration on a branch merged beside this one.
-- Delete this file when that migration is merged; it changes nothing.
SELECT 1;
