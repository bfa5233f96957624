-- The same tables as the SQLite store (see migrations/sqlite/0001_init.sql), in PostgreSQL's dialect.
-- JSON documents are kept as TEXT, byte for byte as the service wrote them, exactly as in SQLite.

-- Job definitions, global and content-addressed.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX jobs_expiry ON jobs (expires_ms);

-- A job's membership and state in one queue. seq orders the queue (FIFO claims, list cursors).
CREATE TABLE queue_jobs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until_ms BIGINT,
    gpus INTEGER NOT NULL DEFAULT 0,
    queued_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    UNIQUE (queue, job_id)
);
CREATE INDEX queue_jobs_claim ON queue_jobs (queue, state, seq);
CREATE INDEX queue_jobs_lease ON queue_jobs (state, lease_until_ms);
CREATE INDEX queue_jobs_expiry ON queue_jobs (expires_ms);
CREATE INDEX queue_jobs_list ON queue_jobs (queue, seq);

-- Per-queue counts by state, kept by a trigger so status and metrics never scan the queue.
-- Unlike SQLite (one writer at a time) many transactions change states at once here, so the trigger only
-- appends +1/-1 deltas: no hot counter row to lock, hence no lock waits or deadlocks between replicas.
-- counts() sums the deltas; compaction folds them into one row per state now and then.
CREATE TABLE queue_counts (
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    n BIGINT NOT NULL
);
CREATE INDEX queue_counts_by_queue ON queue_counts (queue, state);

CREATE FUNCTION asman_count_queue_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO queue_counts (queue, state, n) VALUES (OLD.queue, OLD.state, -1);
    ELSIF OLD.state <> NEW.state THEN
        INSERT INTO queue_counts (queue, state, n) VALUES (OLD.queue, OLD.state, -1), (NEW.queue, NEW.state, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER queue_jobs_count AFTER INSERT OR DELETE OR UPDATE OF state ON queue_jobs
    FOR EACH ROW EXECUTE FUNCTION asman_count_queue_jobs();

CREATE TABLE namespaces (
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    added_ms BIGINT NOT NULL,
    PRIMARY KEY (queue, job_id, namespace)
);
CREATE INDEX namespaces_by_name ON namespaces (queue, namespace, added_ms);

-- The last finished run of a job, global (a result is served to whoever submits the same job next).
CREATE TABLE results (
    job_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX results_expiry ON results (expires_ms);

CREATE TABLE logs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    step TEXT NOT NULL,
    lines TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX logs_by_job ON logs (job_id, step, id);
CREATE INDEX logs_expiry ON logs (expires_ms);

-- Workers connected to some API replica, so status is right whichever replica answers.
CREATE TABLE workers (
    queue TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    replica TEXT NOT NULL,
    info TEXT NOT NULL,
    running TEXT NOT NULL,
    seen_ms BIGINT NOT NULL,
    PRIMARY KEY (queue, worker_id, replica)
);
