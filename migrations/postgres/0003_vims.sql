-- The VIM registry (Tacker's /v1.0/vims): the public document, the sealed
-- credentials, and the two columns the database keeps unique.
CREATE TABLE vims (
    id         text        PRIMARY KEY,
    seq        bigserial   NOT NULL UNIQUE,
    name       text        NOT NULL UNIQUE,
    is_default boolean     NOT NULL DEFAULT false,
    doc        jsonb       NOT NULL,
    sealed     bytea,
    revision   bigint      NOT NULL,
    created_at timestamptz NOT NULL
);

-- At most one default VIM.
CREATE UNIQUE INDEX vims_one_default ON vims (is_default) WHERE is_default;
