-- The outbox reads the rows still to deliver in id order. Delivered rows stay in the table (the
-- record of what was sent), and the index by `next_try_at` could not give that order: every
-- pass walked past all the delivered rows (8 ms behind 90,000 of them, growing with the table).
-- An index of the undelivered rows by id replaces it, so a write keeps the same two indexes;
-- the earliest `next_try_at` is read from the undelivered rows alone.
DROP INDEX notify_outbox_due;
CREATE INDEX notify_outbox_undelivered ON notify_outbox (id) WHERE delivered_at IS NULL AND gave_up_at IS NULL;
