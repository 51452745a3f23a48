-- Tenants and the device registry with its activation codes and token history (reference §4.1).
CREATE TABLE tenants (
  tenant_id     TEXT PRIMARY KEY CHECK (tenant_id <> ''),
  name          TEXT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED', 'DELETED')),
  contact_email TEXT,
  contact_name  TEXT,
  metadata      JSONB NOT NULL DEFAULT '{}',
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  deleted_at    TIMESTAMPTZ
);
CREATE INDEX tenants_status_idx ON tenants (status) WHERE status <> 'DELETED';

CREATE TABLE device_registry (
  tenant_id            TEXT NOT NULL REFERENCES tenants (tenant_id),
  device_id            TEXT NOT NULL CHECK (device_id <> ''),
  site_id              TEXT NOT NULL,
  status               TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'REVOKED', 'PENDING')),
  provision_token_hash TEXT,
  provisioned_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
  device_pubkey        TEXT,
  fw_version           TEXT,
  metadata             JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, device_id)
);
CREATE INDEX idx_device_registry_site ON device_registry (tenant_id, site_id);
CREATE INDEX idx_device_registry_token ON device_registry (provision_token_hash) WHERE provision_token_hash IS NOT NULL;
CREATE INDEX idx_device_registry_status ON device_registry (tenant_id, status);

-- Only the SHA-256 of a code is stored; a code is single-use (used_at) and expires.
CREATE TABLE device_activation (
  tenant_id            TEXT NOT NULL,
  device_id            TEXT NOT NULL,
  activation_code_hash TEXT NOT NULL,
  site_id              TEXT,
  expires_at           TIMESTAMPTZ NOT NULL,
  used_at              TIMESTAMPTZ,
  created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, device_id, activation_code_hash),
  FOREIGN KEY (tenant_id, device_id) REFERENCES device_registry (tenant_id, device_id) ON DELETE CASCADE
);
CREATE INDEX device_activation_lookup_idx ON device_activation (tenant_id, device_id, expires_at DESC);

CREATE TABLE device_token_history (
  id         BIGSERIAL PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  revoked_at TIMESTAMPTZ,
  reason     TEXT,
  FOREIGN KEY (tenant_id, device_id) REFERENCES device_registry (tenant_id, device_id) ON DELETE CASCADE
);
CREATE INDEX device_token_hist_idx ON device_token_history (tenant_id, device_id, created_at DESC);
