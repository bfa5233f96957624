-- Run-log lines keep the newline they were written with (upstream's shape). Rows stored before have none:
-- marked 0 here, and given their newline back when read.
ALTER TABLE logs ADD COLUMN newlines INTEGER NOT NULL DEFAULT 0;
