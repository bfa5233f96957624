-- The store's statements, written once for both dialects. Each starts with a `-- name: <name>` line; a
-- `-- name: <name> :<dialect>` section replaces it for that dialect only. Placeholders are `?` (PostgreSQL gets
-- `$1, $2, ...` at import); `GREATEST(` becomes `MAX(` and `FOR UPDATE ...` clauses disappear on SQLite, whose
-- single writer needs no row locks. `{job_columns}` is the column list every job row is read with; `{trusted}`
-- is the rule of which kept results a queue believes (sql.py TRUSTED: its two parameters are domain, queue).

-- name: get_job
SELECT {job_columns} FROM queue_jobs WHERE queue = ? AND job_id = ?

-- name: get_job_locked
SELECT {job_columns} FROM queue_jobs WHERE queue = ? AND job_id = ? FOR UPDATE

-- A submit that may change nothing, in one read: the job's row in its queue, whether it is in the namespace
-- already, whether a success the queue trusts is kept, and its namespaces as a JSON array in their order.
-- name: submitted_job
SELECT {job_columns},
    EXISTS (SELECT 1 FROM namespaces AS n WHERE n.queue = j.queue AND n.job_id = j.job_id AND n.namespace = ?),
    EXISTS (SELECT 1 FROM results WHERE results.job_id = j.job_id AND reason = ? AND {trusted}),
    (SELECT json_group_array(namespace) FROM (
        SELECT namespace FROM namespaces AS n WHERE n.queue = j.queue AND n.job_id = j.job_id
        ORDER BY added_ms, namespace
    ))
FROM queue_jobs AS j WHERE j.queue = ? AND j.job_id = ?

-- name: submitted_job :postgres
SELECT {job_columns},
    EXISTS (SELECT 1 FROM namespaces AS n WHERE n.queue = j.queue AND n.job_id = j.job_id AND n.namespace = ?),
    EXISTS (SELECT 1 FROM results WHERE results.job_id = j.job_id AND reason = ? AND {trusted}),
    (SELECT json_agg(namespace ORDER BY added_ms, namespace) FROM namespaces AS n
        WHERE n.queue = j.queue AND n.job_id = j.job_id)
FROM queue_jobs AS j WHERE j.queue = ? AND j.job_id = ?

-- name: namespaces_of_job
SELECT namespace FROM namespaces WHERE queue = ? AND job_id = ? ORDER BY added_ms, namespace

-- name: namespaces_of_jobs
SELECT job_id, namespace FROM namespaces WHERE queue = ? AND job_id IN ({ids}) ORDER BY added_ms, namespace

-- name: namespaces_of_jobs :postgres
SELECT job_id, namespace FROM namespaces WHERE queue = ? AND job_id = ANY(?::text[]) ORDER BY added_ms, namespace

-- name: add_namespace
INSERT INTO namespaces (queue, job_id, namespace, added_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING

-- name: remove_namespace
DELETE FROM namespaces WHERE queue = ? AND job_id = ? AND namespace = ?

-- name: remove_namespaces
DELETE FROM namespaces WHERE queue = ? AND job_id = ?

-- name: has_namespace
SELECT 1 FROM namespaces WHERE queue = ? AND job_id = ? LIMIT 1

-- name: save_definition
INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET expires_ms = GREATEST(jobs.expires_ms, excluded.expires_ms)

-- name: get_definition
SELECT definition FROM jobs WHERE id = ?

-- A job new to its queue: Queued, or Finished at once when a successful result the queue trusts is kept.
-- Nothing when the queue already has the job. (`WHERE true` tells SQLite's parser that ON CONFLICT belongs to
-- the INSERT.) PostgreSQL does this, the definition and the namespace in one statement: `insert_job_in_full`.
-- name: insert_job
INSERT INTO queue_jobs (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms, exit_code)
SELECT ?, ?, CASE WHEN kept.n > 0 THEN ? ELSE ? END, CASE WHEN kept.n > 0 THEN ? END,
    ?, ?, ?, ?, kept.exit_code
FROM (SELECT COUNT(*) AS n, MAX(exit_code) AS exit_code FROM results
    WHERE job_id = ? AND reason = ? AND {trusted}) AS kept
WHERE true
ON CONFLICT (queue, job_id) DO NOTHING
RETURNING {job_columns}

-- A job new to its queue, its definition and its namespace in one round trip.
-- name: insert_job_in_full :postgres
WITH cached AS (
    SELECT COUNT(*) AS n, MAX(exit_code) AS exit_code FROM results WHERE job_id = ? AND reason = ? AND {trusted}
),
inserted AS (
    INSERT INTO queue_jobs (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms, exit_code)
    SELECT ?, ?,
        CASE WHEN cached.n > 0 THEN ?::text ELSE ?::text END,
        CASE WHEN cached.n > 0 THEN ?::text END,
        ?, ?, ?, ?, cached.exit_code
    FROM cached
    ON CONFLICT (queue, job_id) DO NOTHING
    RETURNING {job_columns}
),
saved AS (
    INSERT INTO jobs (id, definition, created_ms, expires_ms) SELECT job_id, ?, queued_ms, ?::bigint FROM inserted
    ON CONFLICT (id) DO UPDATE SET expires_ms = GREATEST(jobs.expires_ms, excluded.expires_ms)
),
named AS (
    INSERT INTO namespaces (queue, job_id, namespace, added_ms) SELECT queue, job_id, ?, queued_ms FROM inserted
    ON CONFLICT DO NOTHING
)
SELECT * FROM inserted

-- Many jobs new to their queue at once (a batch submit): each row `(queue, job_id, state, reason, gpus,
-- queued_ms, updated_ms, expires_ms, exit_code)` with its state decided from `kept_results`. Rows the queue
-- already has are left alone and not returned. PostgreSQL does this, the definitions and the namespaces in
-- one statement: `insert_jobs_in_full`.
-- name: insert_jobs
INSERT INTO queue_jobs (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms, exit_code)
VALUES {rows}
ON CONFLICT (queue, job_id) DO NOTHING
RETURNING {job_columns}

-- The successes a queue trusts among many jobs (a job may have several, from queues of one domain).
-- name: kept_results
SELECT job_id, MAX(exit_code) FROM results WHERE reason = ? AND {trusted} AND job_id IN ({ids}) GROUP BY job_id

-- name: kept_results :postgres
SELECT job_id, MAX(exit_code) FROM results WHERE reason = ? AND {trusted} AND job_id = ANY(?::text[])
GROUP BY job_id

-- name: save_definitions
INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES {rows}
ON CONFLICT (id) DO UPDATE SET expires_ms = GREATEST(jobs.expires_ms, excluded.expires_ms)

-- name: add_namespaces
INSERT INTO namespaces (queue, job_id, namespace, added_ms) VALUES {rows} ON CONFLICT DO NOTHING

-- Many jobs new to one queue, with their definitions and namespace, in one round trip and in the order given:
-- the arrays are the job ids, definitions and GPUs wanted. Jobs the queue already has are not returned.
-- name: insert_jobs_in_full :postgres
WITH given AS (
    SELECT * FROM unnest(?::text[], ?::text[], ?::int[]) WITH ORDINALITY AS given (job_id, definition, gpus, n)
),
inserted AS (
    INSERT INTO queue_jobs (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms, exit_code)
    SELECT ?::text, given.job_id,
        CASE WHEN kept.n = 0 THEN ?::text ELSE ?::text END,
        CASE WHEN kept.n > 0 THEN ?::text END,
        given.gpus, ?::bigint, ?::bigint, ?::bigint, kept.exit_code
    FROM given CROSS JOIN LATERAL (
        SELECT COUNT(*) AS n, MAX(exit_code) AS exit_code FROM results
        WHERE results.job_id = given.job_id AND reason = ?::text AND {trusted}
    ) AS kept
    ORDER BY given.n
    ON CONFLICT (queue, job_id) DO NOTHING
    RETURNING {job_columns}
),
saved AS (
    INSERT INTO jobs (id, definition, created_ms, expires_ms)
    SELECT inserted.job_id, given.definition, inserted.queued_ms, ?::bigint
    FROM inserted JOIN given ON given.job_id = inserted.job_id
    ON CONFLICT (id) DO UPDATE SET expires_ms = GREATEST(jobs.expires_ms, excluded.expires_ms)
),
named AS (
    INSERT INTO namespaces (queue, job_id, namespace, added_ms) SELECT queue, job_id, ?, queued_ms FROM inserted
    ON CONFLICT DO NOTHING
)
SELECT * FROM inserted

-- name: requeue
UPDATE queue_jobs SET state = ?, reason = NULL, worker = NULL, lease_until_ms = NULL, exit_code = NULL,
    failures = 0, updated_ms = ?, expires_ms = GREATEST(expires_ms, ?)
WHERE seq = ? RETURNING {job_columns}

-- Results are kept per queue, with the trust domain of their makers (core/trust.py).
-- name: has_trusted_success
SELECT 1 FROM results WHERE job_id = ? AND reason = ? AND {trusted} LIMIT 1

-- What a queue serves: its own result first, else the newest its domain made.
-- name: trusted_result
SELECT result, queue, domain FROM results WHERE job_id = ? AND {trusted}
ORDER BY CASE WHEN queue = ? THEN 0 ELSE 1 END, finished_ms DESC LIMIT 1

-- What the global lookup shows: the newest result, whichever queue made it (the view says which).
-- name: newest_result
SELECT result, queue, domain FROM results WHERE job_id = ? ORDER BY finished_ms DESC LIMIT 1

-- The reason of the result a queue is served (as `trusted_result`), without reading the result.
-- name: result_reason
SELECT reason FROM results WHERE job_id = ? AND {trusted}
ORDER BY CASE WHEN queue = ? THEN 0 ELSE 1 END, finished_ms DESC LIMIT 1

-- One output's DataRef of the result a queue is served, without reading the whole result into the server.
-- name: result_output
SELECT (SELECT o.value FROM json_each(served.result, '$.outputs') AS o WHERE o.key = ? AND o.type = 'object')
FROM (
    SELECT result FROM results WHERE job_id = ? AND {trusted}
    ORDER BY CASE WHEN queue = ? THEN 0 ELSE 1 END, finished_ms DESC LIMIT 1
) AS served

-- name: result_output :postgres
SELECT (result::json -> 'outputs' -> CAST(? AS TEXT))::text FROM results WHERE job_id = ? AND {trusted}
ORDER BY CASE WHEN queue = ? THEN 0 ELSE 1 END, finished_ms DESC LIMIT 1

-- name: drop_failed_result
DELETE FROM results WHERE job_id = ? AND queue = ? AND reason <> ?

-- A delete drops the deleting queue's result only.
-- name: drop_queue_result
DELETE FROM results WHERE job_id = ? AND queue = ?

-- name: drop_queue_logs
DELETE FROM logs WHERE job_id = ? AND queue = ?

-- name: drop_log_counts
DELETE FROM log_counts WHERE job_id = ? AND queue = ?

-- Unfinished jobs of a namespace other than one: a new job there replaces them.
-- name: namespace_rivals
SELECT q.seq, q.job_id, q.state FROM namespaces n JOIN queue_jobs q ON q.queue = n.queue AND q.job_id = n.job_id
WHERE n.queue = ? AND n.namespace = ? AND n.job_id <> ? AND q.state IN (?, ?)
ORDER BY q.seq FOR UPDATE OF q

-- name: end_job
UPDATE queue_jobs SET state = ?, reason = ?, lease_until_ms = NULL, updated_ms = ?, exit_code = NULL
WHERE seq = ? RETURNING {job_columns}

-- An attempt is fenced by its number and, when a token is given, by its secret: a NULL token is the server's
-- own call, for an attempt already bound to the connection that reports on it.
-- name: finish_attempt
UPDATE queue_jobs SET state = ?, reason = ?, lease_until_ms = NULL, updated_ms = ?, exit_code = ?
WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ?
    AND (CAST(? AS TEXT) IS NULL OR COALESCE(token, '') = ?)
RETURNING {job_columns}

-- name: keep_result
INSERT INTO results (job_id, queue, domain, reason, result, finished_ms, expires_ms, exit_code)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id, queue) DO UPDATE SET domain = excluded.domain, reason = excluded.reason,
    result = excluded.result, finished_ms = excluded.finished_ms, expires_ms = excluded.expires_ms,
    exit_code = excluded.exit_code

-- The current attempt finished and its result kept, in one round trip; nothing when the attempt is stale.
-- name: finish_attempt_in_full :postgres
WITH finished AS (
    UPDATE queue_jobs SET state = ?, reason = ?, lease_until_ms = NULL, updated_ms = ?, exit_code = ?
    WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ?
        AND (CAST(? AS TEXT) IS NULL OR COALESCE(token, '') = ?)
    RETURNING {job_columns}
),
kept AS (
    INSERT INTO results (job_id, queue, domain, reason, result, finished_ms, expires_ms, exit_code)
    SELECT job_id, queue, ?, reason, ?, updated_ms, ?, exit_code FROM finished
    ON CONFLICT (job_id, queue) DO UPDATE SET domain = excluded.domain, reason = excluded.reason,
        result = excluded.result, finished_ms = excluded.finished_ms, expires_ms = excluded.expires_ms,
        exit_code = excluded.exit_code
)
SELECT * FROM finished

-- `finish_attempt_in_full` for many attempts in one statement, one row of the arrays each. The caller names each
-- job once: a job matched by two rows would be updated by either one.
-- name: finish_attempts_in_full :postgres
WITH reports AS (
    SELECT * FROM unnest(?::text[], ?::text[], ?::int[], ?::text[], ?::text[], ?::int[], ?::text[], ?::text[])
        AS r(r_queue, r_job, r_attempt, r_token, r_reason, r_exit_code, r_domain, r_result)
),
finished AS (
    UPDATE queue_jobs SET state = ?, reason = r_reason, lease_until_ms = NULL, updated_ms = ?,
        exit_code = r_exit_code
    FROM reports
    WHERE queue = r_queue AND job_id = r_job AND state = ? AND attempt = r_attempt
        AND (r_token IS NULL OR COALESCE(token, '') = r_token)
    RETURNING {job_columns}, r_domain, r_result
),
kept AS (
    INSERT INTO results (job_id, queue, domain, reason, result, finished_ms, expires_ms, exit_code)
    SELECT job_id, queue, r_domain, reason, r_result, updated_ms, ?, exit_code FROM finished
    ON CONFLICT (job_id, queue) DO UPDATE SET domain = excluded.domain, reason = excluded.reason,
        result = excluded.result, finished_ms = excluded.finished_ms, expires_ms = excluded.expires_ms,
        exit_code = excluded.exit_code
)
SELECT {job_columns} FROM finished

-- `fire_callbacks` and `drop_callbacks` for many finished jobs in one statement.
-- name: fire_callbacks_of :postgres
WITH jobs AS (
    SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::bigint[])
        AS f(f_queue, f_job, f_reason, f_exit_code, f_at)
),
fired AS (
    INSERT INTO webhooks (id, event, queue, job_id, namespace, url, config, origin, reason, exit_code, due_ms,
        created_ms, expires_ms)
    SELECT id, CAST(? AS TEXT), queue, job_id, namespace, url, config, origin, f_reason, f_exit_code, f_at, f_at,
        f_at + lifetime_ms
    FROM job_callbacks JOIN jobs ON queue = f_queue AND job_id = f_job
    RETURNING queue, job_id
)
DELETE FROM job_callbacks c USING fired WHERE c.queue = fired.queue AND c.job_id = fired.job_id

-- name: release_attempt
UPDATE queue_jobs SET state = ?, worker = NULL, lease_until_ms = NULL, updated_ms = ?
WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ?
    AND (CAST(? AS TEXT) IS NULL OR COALESCE(token, '') = ?)
RETURNING {job_columns}

-- name: renew_attempt
UPDATE queue_jobs SET lease_until_ms = ?, worker = ? WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ?
    AND (CAST(? AS TEXT) IS NULL OR COALESCE(token, '') = ?)

-- name: renew_attempts :postgres
UPDATE queue_jobs q SET lease_until_ms = ?, worker = ?
FROM unnest(?::text[], ?::int[], ?::text[]) AS a(job_id, attempt, token)
WHERE q.queue = ? AND q.job_id = a.job_id AND q.state = ? AND q.attempt = a.attempt
    AND (a.token IS NULL OR COALESCE(q.token, '') = a.token)
RETURNING q.job_id, q.attempt

-- name: is_current
SELECT 1 FROM queue_jobs WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ?

-- An attempt's log counts move on only from the position the writer last saw (`next_seq`): a batch raced by
-- another connection changes nothing (the writer then reloads the counts). `WHERE true` as in insert_job.
-- name: count_logs
INSERT INTO log_counts AS c (job_id, queue, attempt, step, next_seq, lines, bytes, expires_ms)
SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS BIGINT),
    CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT) WHERE true
ON CONFLICT (job_id, queue, attempt, step) DO UPDATE SET next_seq = excluded.next_seq,
    lines = c.lines + excluded.lines, bytes = c.bytes + excluded.bytes,
    expires_ms = GREATEST(c.expires_ms, excluded.expires_ms)
WHERE c.next_seq = ?

-- name: append_logs
INSERT INTO logs (job_id, queue, attempt, step, lines, expires_ms, newlines, first_line) VALUES (?, ?, ?, ?, ?, ?, 1, ?)

-- The counts and the lines in one round trip.
-- name: append_logs_in_full :postgres
WITH counted AS (
    INSERT INTO log_counts AS c (job_id, queue, attempt, step, next_seq, lines, bytes, expires_ms)
    SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS BIGINT),
        CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT) WHERE true
    ON CONFLICT (job_id, queue, attempt, step) DO UPDATE SET next_seq = excluded.next_seq,
        lines = c.lines + excluded.lines, bytes = c.bytes + excluded.bytes,
        expires_ms = GREATEST(c.expires_ms, excluded.expires_ms)
    WHERE c.next_seq = ?
    RETURNING 1
),
appended AS (
    INSERT INTO logs (job_id, queue, attempt, step, lines, expires_ms, newlines, first_line)
    SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), 1,
        CAST(? AS BIGINT)
    FROM counted WHERE CAST(? AS BIGINT) > 0  -- a batch all of whose lines were stored before only moves counts
)
SELECT COUNT(*) FROM counted

-- name: log_counts
SELECT step, next_seq, lines, bytes FROM log_counts WHERE job_id = ? AND queue = ? AND attempt = ?

-- The attempt whose log of a step is shown (the latest; in one queue, or in any) and how many lines it holds.
-- Logs stored before attempts were told apart by queue have the queue ''.
-- name: latest_log
SELECT queue, attempt, lines FROM log_counts
WHERE job_id = ? AND step = ? AND (CAST(? AS TEXT) IS NULL OR queue = ? OR queue = '')
ORDER BY attempt DESC, expires_ms DESC LIMIT 1

-- A page of a log: the batch holding line `since`, and a few after it.
-- name: read_logs
SELECT lines, newlines, first_line FROM logs WHERE job_id = ? AND step = ? AND queue = ? AND attempt = ?
    AND first_line >= COALESCE((SELECT MAX(first_line) FROM logs
        WHERE job_id = ? AND step = ? AND queue = ? AND attempt = ? AND first_line <= ?), 0)
ORDER BY first_line LIMIT ?

-- Newest first, below a cursor.
-- name: list_jobs
SELECT {job_columns} FROM queue_jobs WHERE queue = ? AND seq < ? ORDER BY seq DESC LIMIT ?

-- The latest attempt of each job that has logged lines of a step (TES: an executor has started).
-- name: logged_attempts
SELECT job_id, MAX(attempt) FROM log_counts WHERE queue = ? AND step = ? AND lines > 0 AND job_id IN ({ids})
GROUP BY job_id

-- name: logged_attempts :postgres
SELECT job_id, MAX(attempt) FROM log_counts
WHERE queue = ? AND step = ? AND lines > 0 AND job_id = ANY(?::text[]) GROUP BY job_id

-- name: list_jobs_in_state
SELECT {job_columns} FROM queue_jobs WHERE queue = ? AND state = ? AND seq < ? ORDER BY seq DESC LIMIT ?

-- The definitions of a page of jobs and the results the reading queue is served (as `trusted_result`), for
-- listings that show them (TES's BASIC and FULL).
-- name: records_of_jobs
SELECT jobs.id, jobs.definition, (
    SELECT result FROM results WHERE results.job_id = jobs.id AND {trusted}
    ORDER BY CASE WHEN queue = ? THEN 0 ELSE 1 END, finished_ms DESC LIMIT 1
) FROM jobs WHERE jobs.id IN ({ids})

-- name: records_of_jobs :postgres
SELECT jobs.id, jobs.definition, (
    SELECT result FROM results WHERE results.job_id = jobs.id AND {trusted}
    ORDER BY CASE WHEN queue = ? THEN 0 ELSE 1 END, finished_ms DESC LIMIT 1
) FROM jobs WHERE jobs.id = ANY(?::text[])

-- name: upsert_worker
INSERT INTO workers (queue, worker_id, replica, info, seen_ms) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (queue, worker_id, replica) DO UPDATE SET info = excluded.info, seen_ms = excluded.seen_ms

-- name: remove_worker
DELETE FROM workers WHERE queue = ? AND worker_id = ? AND replica = ?

-- name: list_workers
SELECT queue, worker_id, replica, info, seen_ms FROM workers WHERE queue = ? AND seen_ms >= ? ORDER BY worker_id

-- name: served_queues
SELECT queue, COUNT(DISTINCT worker_id) FROM workers WHERE seen_ms >= ? GROUP BY queue ORDER BY queue

-- Webhooks (core/webhooks.py). The outbox gets a delivery in the transaction of the change that causes it.
-- name: add_delivery
INSERT INTO webhooks (id, event, queue, job_id, namespace, url, config, origin, due_ms, created_ms, expires_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- A submit's `finished` callback, kept until the job finishes. The same namespace and URL again keeps one
-- callback (and its delivery id), with the latest payload.
-- name: add_callback
INSERT INTO job_callbacks (queue, job_id, namespace, url, id, config, origin, lifetime_ms, expires_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (queue, job_id, namespace, url) DO UPDATE SET config = excluded.config, origin = excluded.origin,
    lifetime_ms = excluded.lifetime_ms, expires_ms = GREATEST(job_callbacks.expires_ms, excluded.expires_ms)

-- A job finished: each of its callbacks becomes a delivery, then they go (each fires once). CASTs type the
-- parameters PostgreSQL cannot infer from a SELECT list.
-- name: fire_callbacks
INSERT INTO webhooks (id, event, queue, job_id, namespace, url, config, origin, reason, exit_code, due_ms,
    created_ms, expires_ms)
SELECT id, CAST(? AS TEXT), queue, job_id, namespace, url, config, origin, CAST(? AS TEXT), CAST(? AS INTEGER),
    CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT) + lifetime_ms
FROM job_callbacks WHERE queue = ? AND job_id = ?

-- name: drop_callbacks
DELETE FROM job_callbacks WHERE queue = ? AND job_id = ?

-- Deliveries due, oldest first, leased to one sender: SKIP LOCKED passes over those another replica is
-- claiming; the lease (a later due_ms) keeps them from everyone else until it runs out.
-- name: claim_deliveries
WITH picked AS (
    SELECT id FROM webhooks WHERE due_ms <= ? AND expires_ms > ? ORDER BY due_ms LIMIT ? FOR UPDATE SKIP LOCKED
)
UPDATE webhooks SET attempts = attempts + 1, due_ms = ? WHERE id IN (SELECT id FROM picked)
RETURNING id, event, queue, job_id, namespace, url, config, origin, reason, exit_code, attempts, expires_ms

-- name: drop_delivery
DELETE FROM webhooks WHERE id = ?

-- Only the attempt that holds the lease may set the next one.
-- name: postpone_delivery
UPDATE webhooks SET due_ms = ?, last_error = ? WHERE id = ? AND attempts = ?

-- Driven by the expiry indexes, so a store of millions of live jobs is not scanned every sweep.
-- name: sweep_namespaces
DELETE FROM namespaces WHERE (queue, job_id) IN (SELECT queue, job_id FROM queue_jobs WHERE expires_ms < ?)

-- name: sweep_namespaces :postgres
DELETE FROM namespaces n USING queue_jobs q WHERE q.queue = n.queue AND q.job_id = n.job_id AND q.expires_ms < ?

-- name: sweep_queue_jobs
DELETE FROM queue_jobs WHERE expires_ms < ?

-- name: sweep_jobs
DELETE FROM jobs WHERE expires_ms < ?

-- name: sweep_results
DELETE FROM results WHERE expires_ms < ?

-- name: sweep_logs
DELETE FROM logs WHERE expires_ms < ?

-- name: sweep_log_counts
DELETE FROM log_counts WHERE expires_ms < ?

-- name: sweep_callbacks
DELETE FROM job_callbacks WHERE expires_ms < ?

-- name: sweep_deliveries
DELETE FROM webhooks WHERE expires_ms < ?

-- name: sweep_workers
DELETE FROM workers WHERE seen_ms < ?

-- The queries below are one dialect's own: SQLite claims and expires leases row by row on its single writer,
-- PostgreSQL in one statement with SKIP LOCKED (see postgres.py).

-- name: claimable
SELECT seq FROM queue_jobs WHERE queue = ? AND state = ? AND gpus <= ? ORDER BY seq LIMIT ?

-- name: claim_row
UPDATE queue_jobs SET state = ?, attempt = attempt + 1, worker = ?, lease_until_ms = ?, updated_ms = ?, token = ?
WHERE seq = ? RETURNING job_id, attempt

-- name: expired_leases
SELECT seq, failures FROM queue_jobs WHERE state = ? AND lease_until_ms < ?

-- name: requeue_lease
UPDATE queue_jobs SET state = ?, failures = failures + 1, worker = NULL, lease_until_ms = NULL, updated_ms = ?
WHERE seq = ? RETURNING {job_columns}

-- name: count_failure
UPDATE queue_jobs SET failures = failures + 1 WHERE seq = ?

-- name: counts
SELECT state, n FROM queue_counts WHERE queue = ?

-- name: claim_jobs :postgres
WITH picked AS (
    SELECT seq FROM queue_jobs WHERE queue = ? AND state = ? AND gpus <= ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED
)
UPDATE queue_jobs q SET state = ?, attempt = q.attempt + 1, worker = ?, lease_until_ms = ?, updated_ms = ?,
    token = gen_random_uuid()::text
FROM picked WHERE q.seq = picked.seq
RETURNING q.seq, q.job_id, q.attempt, (SELECT definition FROM jobs WHERE jobs.id = q.job_id), q.token

-- A lease that ran out: queued again for the next attempt, or ended (the worker kept, for the record) once the
-- retry budget is spent. The first column is the seq, for ordering; the rest is a job row.
-- name: expire_leases :postgres
WITH expired AS (
    SELECT seq FROM queue_jobs WHERE state = ? AND lease_until_ms < ? ORDER BY seq FOR UPDATE SKIP LOCKED
)
UPDATE queue_jobs q SET failures = q.failures + 1,
    state = CASE WHEN q.failures + 1 >= $3 THEN $4 ELSE $5 END,
    reason = CASE WHEN q.failures + 1 >= $3 THEN $6 ELSE q.reason END,
    worker = CASE WHEN q.failures + 1 >= $3 THEN q.worker ELSE NULL END,
    lease_until_ms = NULL, updated_ms = $2
FROM expired WHERE q.seq = expired.seq
RETURNING q.seq, q.queue, q.job_id, q.state, q.reason, q.attempt, q.worker, q.queued_ms, q.updated_ms, q.seq,
    q.exit_code

-- Counts are appended as deltas by a trigger (no hot counter row, so no lock waits) and folded now and then.
-- name: count_deltas :postgres
SELECT state, SUM(n)::bigint AS n, COUNT(*) AS deltas FROM queue_counts WHERE queue = ? GROUP BY state

-- name: lock_counts :postgres
SELECT pg_try_advisory_xact_lock(hashtextextended('asman.queue_counts:' || ?, 0))

-- name: fold_counts :postgres
WITH gone AS (DELETE FROM queue_counts WHERE queue = ? RETURNING state, n)
INSERT INTO queue_counts (queue, state, n) SELECT $1, state, SUM(n) FROM gone GROUP BY state HAVING SUM(n) <> 0

-- name: crowded_counts :postgres
SELECT queue FROM queue_counts GROUP BY queue HAVING COUNT(*) > ?
