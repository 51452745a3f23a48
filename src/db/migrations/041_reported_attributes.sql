-- Attributes a device reports of itself (issue 31: its model, build, serial…), kept apart from those people
-- set: a device can neither overwrite nor remove what a person wrote, and the web app can show which is
-- which. Selectors see both, a person's value winning for a key both name.
ALTER TABLE device_registry
  ADD COLUMN reported_attributes JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(reported_attributes) = 'object');

-- As in 034, over the merged attributes.
CREATE OR REPLACE FUNCTION pulse_index_device_labels() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM device_tags t USING new_rows n JOIN old_rows o USING (tenant_id, device_id)
    WHERE t.tenant_id = n.tenant_id AND t.device_id = n.device_id AND n.tags IS DISTINCT FROM o.tags;
    DELETE FROM device_attribute_values v USING new_rows n JOIN old_rows o USING (tenant_id, device_id)
    WHERE v.tenant_id = n.tenant_id AND v.device_id = n.device_id
      AND (n.attributes IS DISTINCT FROM o.attributes OR n.reported_attributes IS DISTINCT FROM o.reported_attributes);
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
  FROM new_rows n CROSS JOIN LATERAL jsonb_each(n.reported_attributes || n.attributes) AS a
  WHERE NOT EXISTS (
    SELECT 1 FROM device_attribute_values v WHERE v.tenant_id = n.tenant_id AND v.device_id = n.device_id
  );
  RETURN NULL;
END
$$;
