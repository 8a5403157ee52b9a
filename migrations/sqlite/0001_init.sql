-- VNF instances: the SOL003 document plus the columns that filters, paging
-- and ETags need. The indexed columns are copies of document fields, kept in
-- sync by the store on every write.
--
-- seq is the rowid alias: AUTOINCREMENT is only available there, and it
-- guarantees a deleted row's seq is never reused (paging cursors stay valid).
-- id is therefore UNIQUE rather than the primary key. Times are Unix
-- nanoseconds (UTC), so range comparisons on them are plain integer ones.
CREATE TABLE vnf_instances (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT    NOT NULL UNIQUE,
    doc                 TEXT    NOT NULL,
    sealed              BLOB,
    private             TEXT CHECK (private IS NULL OR json_valid(private)),
    revision            INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    vnfd_id             TEXT    NOT NULL DEFAULT '',
    vnf_instance_name   TEXT    NOT NULL DEFAULT '',
    instantiation_state TEXT    NOT NULL DEFAULT '',
    vnf_provider        TEXT    NOT NULL DEFAULT '',
    vnf_product_name    TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX vnf_instances_vnfd_id ON vnf_instances (vnfd_id);
CREATE INDEX vnf_instances_vnf_instance_name ON vnf_instances (vnf_instance_name);
CREATE INDEX vnf_instances_instantiation_state ON vnf_instances (instantiation_state);
CREATE INDEX vnf_instances_vnf_provider ON vnf_instances (vnf_provider);
CREATE INDEX vnf_instances_vnf_product_name ON vnf_instances (vnf_product_name);

-- LCM operation occurrences, which double as the conductor's job rows. No
-- foreign key to vnf_instances: an op occ outlives a deleted instance.
CREATE TABLE vnf_lcm_op_occs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    vnf_instance_id TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    operation_state TEXT    NOT NULL,
    doc             TEXT    NOT NULL,
    sealed_params   BLOB,
    progress        TEXT CHECK (progress IS NULL OR json_valid(progress)),
    job             TEXT    NOT NULL DEFAULT '',
    owner           TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER,
    revision        INTEGER NOT NULL,
    start_time      INTEGER
);

-- One non-final op occ per instance; a violation is ErrOpInProgress. Keep the
-- predicate in step with the store's ActiveOpOcc query and model.FinalStates.
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
