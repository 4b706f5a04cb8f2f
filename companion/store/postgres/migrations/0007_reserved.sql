-- Reserved for another branch's migration; this placeholder keeps the numbers without a gap.
-- (asyncpg cannot run a file that is only a comment, hence the statement that does nothing.)
SELECT 1;
