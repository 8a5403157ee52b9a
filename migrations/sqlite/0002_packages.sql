-- VNF packages (SOL005): the VnfPkgInfo document plus the columns that
-- filters, paging, ETags and the onboarding worker need. The indexed columns
-- are copies of document fields, kept in sync by the store on every write.
--
-- As in 0001: seq is the AUTOINCREMENT rowid alias (never reused), id is
-- UNIQUE, times are Unix nanoseconds (UTC).
CREATE TABLE vnf_packages (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT    NOT NULL UNIQUE,
    doc               TEXT    NOT NULL,
    -- The parsed VNFD, kept as the caller's bytes.
    vnfd              TEXT CHECK (vnfd IS NULL OR json_valid(vnfd)),
    -- The encrypted upload_from_uri request.
    sealed_source     BLOB,
    -- Owner and lease of the onboarding work (UPLOADING, PROCESSING).
    owner             TEXT    NOT NULL DEFAULT '',
    lease_until       INTEGER,
    revision          INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    vnfd_id           TEXT    NOT NULL DEFAULT '',
    onboarding_state  TEXT    NOT NULL DEFAULT '',
    operational_state TEXT    NOT NULL DEFAULT '',
    usage_state       TEXT    NOT NULL DEFAULT '',
    vnf_provider      TEXT    NOT NULL DEFAULT '',
    vnf_product_name  TEXT    NOT NULL DEFAULT ''
);

-- One ONBOARDED package per VNFD; a violation is ErrDuplicate, and
-- OnboardedPackageByVnfd reads through it. Keep the predicate in step with
-- the store's query.
CREATE UNIQUE INDEX vnf_packages_onboarded_vnfd_id ON vnf_packages (vnfd_id)
    WHERE onboarding_state = 'ONBOARDED';

CREATE INDEX vnf_packages_vnfd_id ON vnf_packages (vnfd_id);
CREATE INDEX vnf_packages_onboarding_state ON vnf_packages (onboarding_state);
CREATE INDEX vnf_packages_operational_state ON vnf_packages (operational_state);
CREATE INDEX vnf_packages_usage_state ON vnf_packages (usage_state);
CREATE INDEX vnf_packages_vnf_provider ON vnf_packages (vnf_provider);
CREATE INDEX vnf_packages_vnf_product_name ON vnf_packages (vnf_product_name);

-- StalePackages: packages with onboarding work in progress, in seq order.
CREATE INDEX vnf_packages_onboarding ON vnf_packages (seq)
    WHERE onboarding_state IN ('UPLOADING', 'PROCESSING');

-- The package content (CSAR), apart from vnf_packages so that reading and
-- listing packages never drags it along. DeletePackage removes it explicitly
-- in the same transaction (foreign keys are only enforced on connections that
-- enable them); the cascade is a safety net.
CREATE TABLE vnf_package_contents (
    package_id TEXT PRIMARY KEY REFERENCES vnf_packages (id) ON DELETE CASCADE,
    content    BLOB NOT NULL
);
