-- The same tables as the SQLite store's (see migrations/sqlite/0005_webhooks.sql), in PostgreSQL's dialect.

-- Webhooks (core/webhooks.py). A submit's `finished` callbacks wait here, beside its queue entry, until the job
-- finishes; the transaction that finishes it turns each into a delivery (the delivery id is chosen here already).
CREATE TABLE job_callbacks (
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    url TEXT NOT NULL,
    id TEXT NOT NULL,
    config TEXT NOT NULL,
    origin TEXT NOT NULL,
    lifetime_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (queue, job_id, namespace, url)
);
CREATE INDEX job_callbacks_expiry ON job_callbacks (expires_ms);

-- The outbox: each delivery is written in the transaction of the change that causes it, so none is lost to a
-- restart, and sent by the delivery loop. `due_ms` is when its next attempt may start: a sender that claims it
-- pushes it a lease ahead, so two senders never hold it at once and an attempt cut short by a crash is retried.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    url TEXT NOT NULL,
    config TEXT NOT NULL,
    origin TEXT NOT NULL,
    reason TEXT,
    exit_code INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX webhooks_due ON webhooks (due_ms);
CREATE INDEX webhooks_expiry ON webhooks (expires_ms);
