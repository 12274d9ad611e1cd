-- The next attempt number of a contact (`MAX(number) … WHERE contact_id = ?` in every claim)
-- and a contact's history were full scans of `attempts`: O(calls made) per launch.
CREATE INDEX attempts_contact ON attempts (contact_id, number);

-- Claims read each state's due contacts in (next_at, id) order; with `id` in the index the
-- tie-break (every row of an import has the same next_at) needs no sort of the whole list.
DROP INDEX contacts_due;
CREATE INDEX contacts_due ON contacts (campaign_id, state, next_at, id);
