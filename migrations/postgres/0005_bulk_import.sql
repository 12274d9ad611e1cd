-- Same shape as SQLite's 0005: the uniqueness of (campaign_id, phone) is the named unique index
-- `contacts_phone` (ON CONFLICT (campaign_id, phone) infers it like the constraint it replaces).
ALTER TABLE contacts DROP CONSTRAINT contacts_campaign_id_phone_key;
CREATE UNIQUE INDEX contacts_phone ON contacts (campaign_id, phone);
