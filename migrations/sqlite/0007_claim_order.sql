-- The next attempt number of a contact (`MAX(number) … WHERE contact_id = ?` in every claim)
-- and a contact's history were full scans of `attempts`: O(calls made) per launch.
CREATE INDEX attempts_contact ON attempts (contact_id, number);
