-- Device tags and typed attributes (issue 31): what a fleet is organised by besides its sites, and what a
-- device selector picks devices by. Tags are stored sorted and without repeats; attributes map a key to a
-- JSON string (text, or a date as YYYY-MM-DD), number or boolean. The application checks both.
ALTER TABLE device_registry
  ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object');

-- Selections read these two tables, kept equal to the columns by the trigger below, rather than GIN
-- indexes on the columns (ADR 029): under row-level security PostgreSQL uses an index only for leakproof
-- operators, so that no function sees a row before the policy has filtered it, and the array and jsonb
-- operators of GIN are not; equality and order of text, float8, date and boolean are. One row per tag, and
-- one per attribute with its value in the column of its type (a date's text in text_value too).
CREATE TABLE device_tags (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  tag TEXT NOT NULL,
  PRIMARY KEY (tenant_id, tag, device_id),
  FOREIGN KEY (tenant_id, device_id) REFERENCES device_registry (tenant_id, device_id) ON DELETE CASCADE
);

CREATE TABLE device_attribute_values (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  key TEXT NOT NULL,
  text_value TEXT,
  number_value DOUBLE PRECISION,
  date_value DATE,
  boolean_value BOOLEAN,
  PRIMARY KEY (tenant_id, key, device_id),
  FOREIGN KEY (tenant_id, device_id) REFERENCES device_registry (tenant_id, device_id) ON DELETE CASCADE
);
-- With the device id, so that a lookup reads the index only.
CREATE INDEX idx_device_attribute_text ON device_attribute_values (tenant_id, key, text_value) INCLUDE (device_id)
  WHERE text_value IS NOT NULL;
CREATE INDEX idx_device_attribute_number ON device_attribute_values (tenant_id, key, number_value)
  INCLUDE (device_id) WHERE number_value IS NOT NULL;
CREATE INDEX idx_device_attribute_date ON device_attribute_values (tenant_id, key, date_value) INCLUDE (device_id)
  WHERE date_value IS NOT NULL;

-- For the devices a statement inserted, or updated with other tags or attributes: their rows again. The
-- rows of an updated device whose labels did not change are still there, so the inserts skip it.
CREATE FUNCTION pulse_index_device_labels() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM device_tags t USING new_rows n JOIN old_rows o USING (tenant_id, device_id)
    WHERE t.tenant_id = n.tenant_id AND t.device_id = n.device_id AND n.tags IS DISTINCT FROM o.tags;
    DELETE FROM device_attribute_values v USING new_rows n JOIN old_rows o USING (tenant_id, device_id)
    WHERE v.tenant_id = n.tenant_id AND v.device_id = n.device_id AND n.attributes IS DISTINCT FROM o.attributes;
  END IF;
  INSERT INTO device_tags (tenant_id, device_id, tag)
  SELECT n.tenant_id, n.device_id, unnest(n.tags) FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM device_tags t WHERE t.tenant_id = n.tenant_id AND t.device_id = n.device_id);
  INSERT INTO device_attribute_values (tenant_id, device_id, key, text_value, number_value, date_value, boolean_value)
  SELECT n.tenant_id, n.device_id, a.key,
         CASE jsonb_typeof(a.value) WHEN 'string' THEN a.value #>> '{}' END,
         CASE jsonb_typeof(a.value) WHEN 'number' THEN a.value::float8 END,
         CASE WHEN a.value #>> '{}' ~ '^\d{4}-\d{2}-\d{2}$' AND jsonb_typeof(a.value) = 'string'
              THEN (a.value #>> '{}')::date END,
         CASE jsonb_typeof(a.value) WHEN 'boolean' THEN a.value::boolean END
  FROM new_rows n CROSS JOIN LATERAL jsonb_each(n.attributes) AS a
  WHERE NOT EXISTS (
    SELECT 1 FROM device_attribute_values v WHERE v.tenant_id = n.tenant_id AND v.device_id = n.device_id
  );
  RETURN NULL;
END
$$;

CREATE TRIGGER device_labels_inserted AFTER INSERT ON device_registry
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pulse_index_device_labels();
CREATE TRIGGER device_labels_updated AFTER UPDATE ON device_registry
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pulse_index_device_labels();

ALTER TABLE device_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_tags FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON device_tags FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE device_attribute_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_attribute_values FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON device_attribute_values FOR ALL TO pulse_app
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- Whoever writes device_registry writes these through the trigger.
GRANT SELECT, INSERT, DELETE ON device_tags, device_attribute_values TO pulse_app, pulse_operator, pulse_service;
