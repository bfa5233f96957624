-- An attempt's secret (handed out with its assignment): only a worker that holds it may report on the attempt,
-- take it back after a reconnect or hand it back. Attempts claimed before have none.
ALTER TABLE queue_jobs ADD COLUMN token TEXT;

-- What each attempt's log holds, kept durably so a reconnect or another replica neither resets the log budget
-- nor stores a resent line twice: `next_seq` is the worker's count of lines sent (its sequence numbers), `lines`
-- and `bytes` what is stored (lines and their serialized size, extra fields included).
CREATE TABLE log_counts (
    job_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    step TEXT NOT NULL,
    next_seq INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, queue, attempt, step)
) WITHOUT ROWID;
CREATE INDEX log_counts_expiry ON log_counts (expires_ms);

-- Each stored batch knows the index of its first line, so a page of a log is read without reading all of it.
ALTER TABLE logs ADD COLUMN first_line INTEGER NOT NULL DEFAULT 0;
-- Attempts are numbered per queue: the same job running in two queues keeps two logs. Older rows get the queue
-- whose job had that attempt ('' when none has).
ALTER TABLE logs ADD COLUMN queue TEXT NOT NULL DEFAULT '';
UPDATE logs SET queue = attempts.queue
FROM (SELECT job_id, attempt, MIN(queue) AS queue FROM queue_jobs GROUP BY job_id, attempt) AS attempts
WHERE logs.job_id = attempts.job_id AND logs.attempt = attempts.attempt;
UPDATE logs SET first_line = numbered.first_line
FROM (
    SELECT id, SUM(json_array_length(lines)) OVER (PARTITION BY job_id, queue, attempt, step ORDER BY id)
        - json_array_length(lines) AS first_line
    FROM logs
) AS numbered
WHERE logs.id = numbered.id;
INSERT INTO log_counts (job_id, queue, attempt, step, next_seq, lines, bytes, expires_ms)
SELECT job_id, queue, attempt, step, SUM(json_array_length(lines)), SUM(json_array_length(lines)), SUM(length(CAST(lines AS BLOB))),
    MAX(expires_ms)
FROM logs GROUP BY job_id, queue, attempt, step;
DROP INDEX logs_by_job;
CREATE INDEX logs_page ON logs (job_id, step, queue, attempt, first_line);
