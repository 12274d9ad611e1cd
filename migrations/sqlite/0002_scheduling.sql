-- Scheduling: appointment times, retry streaks, pause reasons, the do-not-call list.
ALTER TABLE contacts ADD COLUMN appointment_at INTEGER;
ALTER TABLE contacts ADD COLUMN result_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN note TEXT;
ALTER TABLE campaigns ADD COLUMN paused_reason TEXT;

-- One row per number (E.164). `until_date`: blocked only until that local date (exclusive of
-- later days); `hours`: blocked only during those weekly hours. Neither: blocked for good.
CREATE TABLE do_not_call (
    phone       TEXT PRIMARY KEY,
    until_date  TEXT,
    hours       TEXT,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
