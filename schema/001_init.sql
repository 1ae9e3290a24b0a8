-- 001_init: the data model of SPEC section 3.
--
-- Invalid states are made impossible where the database can: status values, codes, quantities and
-- the lease fields are checked here, not only in C. Migrations are applied by `gspbot migrate`,
-- each in its own transaction; schema_migrations is created by migrate itself.

CREATE TABLE batches (
    id            bigserial PRIMARY KEY,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    source_file   text,
    source_sha256 text        CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
    priority      integer     NOT NULL DEFAULT 0,
    orders_total  integer     NOT NULL DEFAULT 0 CHECK (orders_total >= 0),
    items_total   integer     NOT NULL DEFAULT 0 CHECK (items_total >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    CHECK (finished_at IS NULL OR status IN ('completed', 'failed', 'cancelled'))
);
-- Duplicate-file detection (`load` refuses a file whose SHA-256 is already loaded).
CREATE INDEX batches_source_sha256_idx ON batches (source_sha256);

CREATE TABLE orders (
    id               bigserial   PRIMARY KEY,
    batch_id         bigint      NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    seq              integer     NOT NULL CHECK (seq >= 1),  -- first-appearance order in the file
    consultora_code  text        NOT NULL CHECK (consultora_code ~ '^[0-9A-Za-z-]{1,20}$'),
    consultora_name  text        CHECK (length(consultora_name) <= 200),
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'queued', 'in_progress', 'retrying', 'completed',
                                       'failed', 'cancelled')),
    step             text        CHECK (length(step) BETWEEN 1 AND 64),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL DEFAULT 4 CHECK (max_attempts >= 1),
    next_attempt_at  timestamptz,
    -- The lease: who holds the order, until when, and a fencing token that every update made by
    -- the holder must present (a stale worker cannot overwrite a newer attempt).
    lease_owner      text,
    lease_expires_at timestamptz,
    lease_token      bigint      NOT NULL DEFAULT 0,
    last_error       text,
    error_class      text        CHECK (error_class IN ('fatal', 'recoverable', 'session', 'cancelled')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (batch_id, consultora_code),
    UNIQUE (batch_id, seq),
    -- An order is in progress exactly when someone holds its lease.
    CHECK ((status = 'in_progress') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK (status <> 'retrying' OR next_attempt_at IS NOT NULL),
    CHECK (attempts <= max_attempts OR status IN ('failed', 'cancelled', 'completed'))
);
-- The queue's claim query: runnable orders, oldest due first.
CREATE INDEX orders_claim_idx ON orders (next_attempt_at NULLS FIRST, id)
    WHERE status IN ('queued', 'retrying');
-- Listing a batch's orders by status, and counting them.
CREATE INDEX orders_batch_status_idx ON orders (batch_id, status, seq);
-- Expired leases (a dead worker's orders).
CREATE INDEX orders_lease_idx ON orders (lease_expires_at) WHERE status = 'in_progress';

CREATE TABLE order_items (
    id            bigserial PRIMARY KEY,
    order_id      bigint    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_code  text      NOT NULL CHECK (product_code ~ '^[0-9A-Za-z-]{1,20}$'),
    -- One row holds 1..GSPBOT_MAX_QUANTITY; repeated rows of a product are summed into one item.
    quantity      integer   NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    source_lines  integer[] NOT NULL DEFAULT '{}',
    outcome       text      NOT NULL DEFAULT 'pending' CHECK (outcome ~ '^[a-z][a-z_]{0,39}$'),
    message       text,
    UNIQUE (order_id, product_code)
);

CREATE TABLE order_logs (
    id          bigserial   PRIMARY KEY,
    order_id    bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL CHECK (attempt >= 0),
    step        text        NOT NULL CHECK (length(step) BETWEEN 1 AND 64),
    level       text        NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message     text        NOT NULL,
    duration_ms integer     CHECK (duration_ms >= 0),
    worker      text,
    screenshot  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_logs_order_idx ON order_logs (order_id, id);

CREATE TABLE workers (
    id              text        PRIMARY KEY,
    hostname        text        NOT NULL,
    pid             integer     NOT NULL CHECK (pid > 0),
    status          text        NOT NULL DEFAULT 'idle'
                    CHECK (status IN ('idle', 'busy', 'stopping', 'stopped', 'dead')),
    current_order   bigint      REFERENCES orders (id) ON DELETE SET NULL,
    orders_done     integer     NOT NULL DEFAULT 0 CHECK (orders_done >= 0),
    orders_failed   integer     NOT NULL DEFAULT 0 CHECK (orders_failed >= 0),
    started_at      timestamptz NOT NULL DEFAULT now(),
    heartbeat_at    timestamptz NOT NULL DEFAULT now()
);

-- The circuit breaker shared by every worker on every machine (one row per protected portal).
CREATE TABLE circuit_breaker (
    name                 text        PRIMARY KEY,
    state                text        NOT NULL DEFAULT 'closed'
                         CHECK (state IN ('closed', 'open', 'half_open')),
    consecutive_failures integer     NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    opened_at            timestamptz,
    probe_owner          text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'open' OR opened_at IS NOT NULL)
);
INSERT INTO circuit_breaker (name) VALUES ('portal');
