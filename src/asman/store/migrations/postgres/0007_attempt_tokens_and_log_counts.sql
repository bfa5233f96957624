-- The same change as migrations/sqlite/0007_attempt_tokens_and_log_counts.sql, in PostgreSQL's dialect.
ALTER TABLE queue_jobs ADD COLUMN token TEXT;

CREATE TABLE log_counts (
    job_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    step TEXT NOT NULL,
    next_seq BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (job_id, queue, attempt, step)
);
CREATE INDEX log_counts_expiry ON log_counts (expires_ms);

ALTER TABLE logs ADD COLUMN first_line BIGINT NOT NULL DEFAULT 0;
-- Attempts are numbered per queue: the same job running in two queues keeps two logs. Older rows get the queue
-- whose job had that attempt ('' when none has).
ALTER TABLE logs ADD COLUMN queue TEXT NOT NULL DEFAULT '';
UPDATE logs SET queue = attempts.queue
FROM (SELECT job_id, attempt, MIN(queue) AS queue FROM queue_jobs GROUP BY job_id, attempt) AS attempts
WHERE logs.job_id = attempts.job_id AND logs.attempt = attempts.attempt;
UPDATE logs SET first_line = numbered.first_line
FROM (
    SELECT id, SUM(json_array_length(lines::json)) OVER (PARTITION BY job_id, queue, attempt, step ORDER BY id)
        - json_array_length(lines::json) AS first_line
    FROM logs
) AS numbered
WHERE logs.id = numbered.id;
INSERT INTO log_counts (job_id, queue, attempt, step, next_seq, lines, bytes, expires_ms)
SELECT job_id, queue, attempt, step, SUM(json_array_length(lines::json)), SUM(json_array_length(lines::json)),
    SUM(octet_length(lines)), MAX(expires_ms)
FROM logs GROUP BY job_id, queue, attempt, step;
DROP INDEX logs_by_job;
CREATE INDEX logs_page ON logs (job_id, step, queue, attempt, first_line);
