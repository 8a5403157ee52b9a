-- The VIM registry (Tacker's /v1.0/vims): the public document, the sealed
-- credentials, and the two columns the database keeps unique. As in 0001:
-- seq is the AUTOINCREMENT rowid alias, times are Unix nanoseconds (UTC).
CREATE TABLE vims (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL UNIQUE,
    is_default INTEGER NOT NULL DEFAULT 0,
    doc        TEXT    NOT NULL,
    sealed     BLOB,
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- At most one default VIM.
CREATE UNIQUE INDEX vims_one_default ON vims (is_default) WHERE is_default = 1;
