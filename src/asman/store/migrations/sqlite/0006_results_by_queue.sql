-- Results are kept per queue, with the trust domain of the queue that made them (core/trust.py): a queue is
-- served only results its domain made, and a delete drops only the deleting queue's. Results kept before have
-- no domain (''): the queue named in the result itself, when it names one, is where it was made, and the only
-- queue that still trusts it.
CREATE TABLE results_by_queue (
    job_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    domain TEXT NOT NULL,
    reason TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    exit_code INTEGER,
    PRIMARY KEY (job_id, queue)
) WITHOUT ROWID;
INSERT INTO results_by_queue (job_id, queue, domain, reason, result, finished_ms, expires_ms, exit_code)
SELECT job_id,
    COALESCE(CASE WHEN json_valid(result) AND json_type(result, '$.queue') = 'text'
        THEN json_extract(result, '$.queue') END, ''),
    '', reason, result, finished_ms, expires_ms, exit_code
FROM results;
DROP TABLE results;
ALTER TABLE results_by_queue RENAME TO results;
CREATE INDEX results_expiry ON results (expires_ms);
