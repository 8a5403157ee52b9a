-- VNF instances: the SOL003 document plus the columns that filters, paging
-- and ETags need. The indexed columns are copies of document fields, kept in
-- sync by the store on every write.
CREATE TABLE vnf_instances (
    id                  text        PRIMARY KEY,
    seq                 bigserial   NOT NULL UNIQUE,
    doc                 jsonb       NOT NULL,
    sealed              bytea,
    -- json (not jsonb) keeps the caller's bytes exactly.
    private             json,
    revision            bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    vnfd_id             text        NOT NULL DEFAULT '',
    vnf_instance_name   text        NOT NULL DEFAULT '',
    instantiation_state text        NOT NULL DEFAULT '',
    vnf_provider        text        NOT NULL DEFAULT '',
    vnf_product_name    text        NOT NULL DEFAULT ''
);

CREATE INDEX vnf_instances_vnfd_id ON vnf_instances (vnfd_id);
CREATE INDEX vnf_instances_vnf_instance_name ON vnf_instances (vnf_instance_name);
CREATE INDEX vnf_instances_instantiation_state ON vnf_instances (instantiation_state);
CREATE INDEX vnf_instances_vnf_provider ON vnf_instances (vnf_provider);
CREATE INDEX vnf_instances_vnf_product_name ON vnf_instances (vnf_product_name);

-- LCM operation occurrences, which double as the conductor's job rows. No
-- foreign key to vnf_instances: an op occ outlives a deleted instance.
CREATE TABLE vnf_lcm_op_occs (
    id              text        PRIMARY KEY,
    seq             bigserial   NOT NULL UNIQUE,
    vnf_instance_id text        NOT NULL,
    operation       text        NOT NULL,
    operation_state text        NOT NULL,
    doc             jsonb       NOT NULL,
    sealed_params   bytea,
    progress        json,
    job             text        NOT NULL DEFAULT '',
    owner           text        NOT NULL DEFAULT '',
    lease_until     timestamptz,
    revision        bigint      NOT NULL,
    start_time      timestamptz
);

-- One non-final op occ per instance. The store maps a violation of this index
-- (by name) to ErrOpInProgress; keep the predicate in step with the store's
-- ActiveOpOcc query and model.FinalStates.
CREATE UNIQUE INDEX vnf_lcm_op_occs_one_active ON vnf_lcm_op_occs (vnf_instance_id)
    WHERE operation_state NOT IN ('COMPLETED', 'FAILED', 'ROLLED_BACK');

CREATE INDEX vnf_lcm_op_occs_vnf_instance_id ON vnf_lcm_op_occs (vnf_instance_id);
CREATE INDEX vnf_lcm_op_occs_operation ON vnf_lcm_op_occs (operation);
CREATE INDEX vnf_lcm_op_occs_operation_state ON vnf_lcm_op_occs (operation_state);

-- ClaimJob: the oldest job nobody owns. The predicate carries job and owner,
-- so the index holds only queued rows, already in claim (seq) order.
CREATE INDEX vnf_lcm_op_occs_claim ON vnf_lcm_op_occs (seq)
    WHERE job <> '' AND owner = '';
-- ExpiredJobs / OwnedJobs: rows somebody owns, by lease end.
CREATE INDEX vnf_lcm_op_occs_owned ON vnf_lcm_op_occs (owner, lease_until)
    WHERE owner <> '';
