-- The import lease of 0005 (a row with the importer's process id and a heartbeat, taken over
-- when its process was gone or its heartbeat old) is now a lock file beside the database
-- (`<database>.import-lock`, flock): the operating system releases it when the importer exits,
-- however it exits, with no process ids or clocks to judge by.
DROP TABLE import_lease;
