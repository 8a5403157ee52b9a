-- LCM notification subscriptions (SOL003 §5.4.18): the public document, the
-- sealed authentication, the duplicate key and the columns filters need.
-- owner and lease_until are the outbox lease: the process delivering the
-- subscription's notifications (in seq order, one process at a time).
CREATE TABLE subscriptions (
    id           text        PRIMARY KEY,
    seq          bigserial   NOT NULL UNIQUE,
    doc          jsonb       NOT NULL,
    sealed       bytea,
    -- Identifies callback and filter; not unique (duplicates may be allowed).
    dup_key      text        NOT NULL DEFAULT '',
    callback_uri text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    owner        text        NOT NULL DEFAULT '',
    lease_until  timestamptz
);

CREATE INDEX subscriptions_dup_key ON subscriptions (dup_key);
CREATE INDEX subscriptions_callback_uri ON subscriptions (callback_uri);

-- The notification outbox: rows are written in the transaction of the change
-- they announce and deleted once delivered. A subscription's rows are
-- delivered in seq order; deleting the subscription drops them.
CREATE TABLE notifications (
    seq             bigserial   PRIMARY KEY,
    id              text        NOT NULL,
    subscription_id text        NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    -- json (not jsonb) keeps the caller's bytes exactly.
    body            json        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt    timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT ''
);

-- A subscription's notifications in delivery order (its head first); also
-- serves the foreign key's cascade.
CREATE INDEX notifications_subscription ON notifications (subscription_id, seq);
