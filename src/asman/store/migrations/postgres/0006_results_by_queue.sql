-- Results are kept per queue, with the trust domain of the queue that made them (core/trust.py): a queue is
-- served only results its domain made, and a delete drops only the deleting queue's. Results kept before have
-- no domain (''): the queue named in the result itself, when it names one, is where it was made, and the only
-- queue that still trusts it.
ALTER TABLE results ADD COLUMN queue TEXT NOT NULL DEFAULT '', ADD COLUMN domain TEXT NOT NULL DEFAULT '';
UPDATE results SET queue = result::jsonb ->> 'queue'
WHERE jsonb_typeof(result::jsonb) = 'object' AND jsonb_typeof(result::jsonb -> 'queue') = 'string';
ALTER TABLE results DROP CONSTRAINT results_pkey, ADD PRIMARY KEY (job_id, queue);
