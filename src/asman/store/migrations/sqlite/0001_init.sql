-- Job definitions, global and content-addressed.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX jobs_expiry ON jobs (expires_ms);

-- A job's membership and state in one queue. seq orders the queue (FIFO claims, list cursors).
CREATE TABLE queue_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until_ms INTEGER,
    gpus INTEGER NOT NULL DEFAULT 0,
    queued_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    UNIQUE (queue, job_id)
);
CREATE INDEX queue_jobs_claim ON queue_jobs (queue, state, seq);
CREATE INDEX queue_jobs_lease ON queue_jobs (state, lease_until_ms);
CREATE INDEX queue_jobs_expiry ON queue_jobs (expires_ms);

-- Per-queue counts by state, kept by triggers so status and metrics never scan the queue.
CREATE TABLE queue_counts (
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, state)
) WITHOUT ROWID;
CREATE TRIGGER queue_jobs_count_insert AFTER INSERT ON queue_jobs BEGIN
    INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER queue_jobs_count_delete AFTER DELETE ON queue_jobs BEGIN
    UPDATE queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
END;
CREATE TRIGGER queue_jobs_count_update AFTER UPDATE OF state ON queue_jobs WHEN OLD.state <> NEW.state BEGIN
    UPDATE queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
    INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;

CREATE TABLE namespaces (
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    added_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, job_id, namespace)
) WITHOUT ROWID;
CREATE INDEX namespaces_by_name ON namespaces (queue, namespace, added_ms);

-- The last finished run of a job, global (a result is served to whoever submits the same job next).
CREATE TABLE results (
    job_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX results_expiry ON results (expires_ms);

CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    step TEXT NOT NULL,
    lines TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
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
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, worker_id, replica)
) WITHOUT ROWID;
CREATE INDEX queue_jobs_list ON queue_jobs (queue, seq);
