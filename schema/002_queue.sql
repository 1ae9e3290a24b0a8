-- 002_queue: what the batch engine needs on top of 001 (SPEC sections 3, 7 and 8).
--
-- * orders: the `abort` error class (and `stopped` for a drained attempt in the logs), the
--   portal's reference captured by a flow, the last `gspbot verify` result.
-- * batches: why a batch was paused (an abort, or a person), and when it was asked to start.
-- * workers: a numeric key for the worker's session advisory lock (its death is seen at once),
--   the step it is on, the browser's memory and relaunches, the pool it belongs to.
-- * circuit_breaker: a lease on the half-open probe (a probe whose worker died is taken over),
--   why it opened and how often.
-- * events: an outbox of what the API streams (/events) and posts (webhooks), written in the
--   same transaction as the change it reports, delivered by whoever serves it.
-- * the claim index: per batch, runnable orders in claim order, so that a claim is one index
--   scan per running batch however many paused or finished batches the table holds.

ALTER TABLE orders DROP CONSTRAINT orders_error_class_check;
ALTER TABLE orders ADD CONSTRAINT orders_error_class_check
    CHECK (error_class IN ('fatal', 'recoverable', 'session', 'abort', 'cancelled'));
ALTER TABLE orders
    ADD COLUMN portal_reference text CHECK (length(portal_reference) <= 200),
    ADD COLUMN verified_at      timestamptz,
    ADD COLUMN verify_result    text CHECK (verify_result IN ('exact', 'missing', 'excess', 'unexpected',
                                                             'mismatch', 'error')),
    ADD COLUMN verify_detail    text;

DROP INDEX orders_claim_idx;
CREATE INDEX orders_claim_idx ON orders (batch_id, next_attempt_at NULLS FIRST, id)
    WHERE status IN ('queued', 'retrying');

ALTER TABLE batches
    ADD COLUMN paused_reason text,
    ADD COLUMN start_at      timestamptz;
CREATE INDEX batches_running_idx ON batches (priority DESC, id) WHERE status = 'running';
-- Orders that finished lately (the API's /events stream and the rate figures).
CREATE INDEX orders_finished_idx ON orders (finished_at) WHERE finished_at IS NOT NULL;

CREATE SEQUENCE workers_lock_key_seq AS integer MAXVALUE 2147483647 CYCLE;
ALTER TABLE workers
    ADD COLUMN lock_key         integer NOT NULL DEFAULT nextval('workers_lock_key_seq'),
    ADD COLUMN pool             text,
    ADD COLUMN current_step     text,
    ADD COLUMN browser_rss_mb   integer NOT NULL DEFAULT 0 CHECK (browser_rss_mb >= 0),
    ADD COLUMN browser_launches integer NOT NULL DEFAULT 0 CHECK (browser_launches >= 0),
    ADD COLUMN stopped_at       timestamptz,
    ADD COLUMN stop_reason      text;
ALTER SEQUENCE workers_lock_key_seq OWNED BY workers.lock_key;
CREATE INDEX workers_live_idx ON workers (status) WHERE status NOT IN ('stopped', 'dead');

ALTER TABLE circuit_breaker
    ADD COLUMN probe_expires_at timestamptz,
    ADD COLUMN reason           text,
    ADD COLUMN opened_count     integer NOT NULL DEFAULT 0 CHECK (opened_count >= 0);

CREATE TABLE events (
    id           bigserial   PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind ~ '^[a-z][a-z_.]{0,39}$'),
    batch_id     bigint      REFERENCES batches (id) ON DELETE CASCADE,
    payload      jsonb       NOT NULL DEFAULT '{}',
    webhook      boolean     NOT NULL DEFAULT false, -- also posted to GSPBOT_WEBHOOK_URL
    delivered_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_webhook_idx ON events (id) WHERE webhook AND delivered_at IS NULL;
