-- LCM notification subscriptions (SOL003 §5.4.18): the public document, the
-- sealed authentication, the duplicate key and the columns filters need.
-- owner and lease_until are the outbox lease: the process delivering the
-- subscription's notifications (in seq order, one process at a time).
--
-- As in 0001: seq is the AUTOINCREMENT rowid alias (never reused), id is
-- UNIQUE, times are Unix nanoseconds (UTC).
CREATE TABLE subscriptions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    doc          TEXT    NOT NULL,
    sealed       BLOB,
    -- Identifies callback and filter; not unique (duplicates may be allowed).
    dup_key      TEXT    NOT NULL DEFAULT '',
    callback_uri TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    owner        TEXT    NOT NULL DEFAULT '',
    lease_until  INTEGER
);

CREATE INDEX subscriptions_dup_key ON subscriptions (dup_key);
CREATE INDEX subscriptions_callback_uri ON subscriptions (callback_uri);

-- The notification outbox: rows are written in the transaction of the change
-- they announce and deleted once delivered. A subscription's rows are
-- delivered in seq order; deleting the subscription drops them (the store's
-- connections all enable foreign keys).
CREATE TABLE notifications (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    body            TEXT    NOT NULL CHECK (json_valid(body)),
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT ''
);

-- A subscription's notifications in delivery order (its head first); also
-- serves the foreign key's cascade.
CREATE INDEX notifications_subscription ON notifications (subscription_id, seq);
