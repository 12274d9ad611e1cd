-- Resumable imports: a file is recorded first and marked complete at the end, so an import cut
-- short by a crash is resumed (inserts are idempotent) instead of being taken as done.
ALTER TABLE imported_files ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
