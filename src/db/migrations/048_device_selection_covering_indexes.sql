-- The devices list's count and the selector's lookups (issue 31) join device_registry by device id and
-- check its status (a status filter leaves REVOKED devices out): with the status in the index entries those
-- joins read the index alone, not 100,000 wide rows (tags, attributes, metadata). The site index gains the
-- device id, the list's second sort key.
CREATE INDEX idx_device_registry_selection ON device_registry (tenant_id, device_id) INCLUDE (site_id, status);
DROP INDEX idx_device_registry_site;
CREATE INDEX idx_device_registry_site ON device_registry (tenant_id, site_id, device_id) INCLUDE (status);
