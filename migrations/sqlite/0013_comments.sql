-- Comments on tables and columns exist on PostgreSQL only (migrations/postgres/0013); this
-- version keeps both folders at equal numbers.
SELECT 1;
