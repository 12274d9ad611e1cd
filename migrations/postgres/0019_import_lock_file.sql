-- On SQLite this version drops the import lease table of 0005 for a lock file beside the
-- database. PostgreSQL's import lease is a session advisory lock per campaign: nothing to do.
SELECT 1;
