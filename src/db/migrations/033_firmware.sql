-- Firmware images for over-the-air updates (issue 30): a tenant's images, each one version for one device
-- model (or, model null, for every model), and their bytes as bytea chunks of chunk_bytes each, the last
-- one shorter (ADR 027). Chunks are stored uncompressed (STORAGE EXTERNAL): firmware is mostly compressed
-- already, so compressing costs time for nothing, and substring() of a chunk reads only the bytes a Range
-- asks for.
CREATE TABLE firmware_images (
  image_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
  version TEXT NOT NULL,
  model TEXT NULL,
  filename TEXT NULL,
  size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
  sha256 TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  chunk_bytes INTEGER NOT NULL CHECK (chunk_bytes > 0),
  created_by TEXT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- One image per version and model; of the images for every model (null), one per version too.
  CONSTRAINT firmware_images_version_uq UNIQUE NULLS NOT DISTINCT (tenant_id, version, model),
  CONSTRAINT firmware_images_tenant_image_uq UNIQUE (tenant_id, image_id)
);

-- A chunk names its image's tenant, so row-level security needs no join, and the foreign key keeps the two
-- the same.
CREATE TABLE firmware_chunks (
  tenant_id TEXT NOT NULL,
  image_id UUID NOT NULL,
  seq INTEGER NOT NULL CHECK (seq >= 0),
  data BYTEA NOT NULL,
  PRIMARY KEY (image_id, seq),
  FOREIGN KEY (tenant_id, image_id) REFERENCES firmware_images (tenant_id, image_id) ON DELETE CASCADE
);
ALTER TABLE firmware_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE firmware_images ENABLE ROW LEVEL SECURITY;
ALTER TABLE firmware_images FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON firmware_images FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON firmware_images TO pulse_app;
GRANT SELECT ON firmware_images TO pulse_service, pulse_operator;

ALTER TABLE firmware_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE firmware_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON firmware_chunks FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, DELETE ON firmware_chunks TO pulse_app;
GRANT SELECT ON firmware_chunks TO pulse_service;
