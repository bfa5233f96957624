-- The exit code of a finished run, kept with the job's row (listings and events carry it) and with its result
-- (a cached success handed to another queue brings it along).
ALTER TABLE queue_jobs ADD COLUMN exit_code INTEGER;
ALTER TABLE results ADD COLUMN exit_code INTEGER;
