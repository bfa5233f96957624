-- What each worker runs is read from the Running jobs (status joins them by worker): the copy kept here was
-- written on every heartbeat and never read.
ALTER TABLE workers DROP COLUMN running;
