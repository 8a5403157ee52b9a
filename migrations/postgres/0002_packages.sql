-- VNF packages (SOL005): the VnfPkgInfo document plus the columns that
-- filters, paging, ETags and the onboarding worker need. The indexed columns
-- are copies of document fields, kept in sync by the store on every write.
CREATE TABLE vnf_packages (
    id                text        PRIMARY KEY,
    seq               bigserial   NOT NULL UNIQUE,
    doc               jsonb       NOT NULL,
    -- The parsed VNFD; json (not jsonb) keeps the caller's bytes exactly.
    vnfd              json,
    -- The encrypted upload_from_uri request.
    sealed_source     bytea,
    -- Owner and lease of the onboarding work (UPLOADING, PROCESSING).
    owner             text        NOT NULL DEFAULT '',
    lease_until       timestamptz,
    revision          bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    vnfd_id           text        NOT NULL DEFAULT '',
    onboarding_state  text        NOT NULL DEFAULT '',
    operational_state text        NOT NULL DEFAULT '',
    usage_state       text        NOT NULL DEFAULT '',
    vnf_provider      text        NOT NULL DEFAULT '',
    vnf_product_name  text        NOT NULL DEFAULT ''
);

-- One ONBOARDED package per VNFD. The store maps a violation of this index
-- (by name) to ErrDuplicate, and OnboardedPackageByVnfd reads through it;
-- keep the predicate in step with the store's query.
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
-- in the same transaction; the cascade is a safety net, and the foreign key
-- keeps a content write from racing a package delete into an orphan row.
CREATE TABLE vnf_package_contents (
    package_id text  PRIMARY KEY REFERENCES vnf_packages (id) ON DELETE CASCADE,
    content    bytea NOT NULL
);
