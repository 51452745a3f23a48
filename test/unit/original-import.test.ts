// The import's decisions on one original row at a time, and on the original's shape (src/import).
import { describe, expect, it } from 'vitest';
import { mapAlert, mapDevice, mapRoute, mapRule } from '../../src/import/original-rows.js';
import { sourceLevel, sourceProblem, telemetryWindow } from '../../src/import/original.js';
import type { SourceShape } from '../../src/model/original-source.js';

const HASH = 'a'.repeat(64);
const device = (fields: Record<string, unknown>) =>
  mapDevice({ tenant_id: 't', device_id: 'd1', site_id: 's', status: 'ACTIVE', provision_token_hash: HASH, ...fields });

describe('mapDevice', () => {
  it.each([
    [{}, 'ACTIVE'],
    [{ status: 'REVOKED' }, 'REVOKED'],
    [{ status: 'PENDING' }, 'PENDING'],
    [{ status: 'SUSPENDED' }, 'REVOKED'],
    [{ status: 'INACTIVE' }, 'REVOKED'],
    [{ decommissioned_at: '2026-01-01T00:00:00Z' }, 'REVOKED'],
  ])('%o comes over %s', (fields, status) => {
    const mapped = device(fields);
    expect('row' in mapped && mapped.row.status).toBe(status);
  });

  it('keeps the token hash, lower-cased', () => {
    const mapped = device({ provision_token_hash: 'AB'.repeat(32) });
    expect('row' in mapped && mapped.row.provision_token_hash).toBe('ab'.repeat(32));
  });

  it.each([
    [{ provision_token_hash: 'tok-plain' }, 'provision_token_hash is not SHA-256 hex'],
    [{ device_id: 'a/b' }, 'device_id must be'],
    [{ status: 'LOST' }, 'status LOST is not one Pulse knows'],
    [{ metadata: '[1]' }, undefined],
  ])('%o is refused: %s', (fields, reason) => {
    const mapped = device(fields);
    if (reason === undefined) expect(mapped).toHaveProperty('row.metadata', {});
    else expect('refused' in mapped && mapped.refused).toContain(reason);
  });
});

describe('mapRule', () => {
  const rule = (fields: Record<string, unknown>) =>
    mapRule({
      tenant_id: 't',
      rule_id: 'r1',
      name: 'n',
      metric_name: 'temp_c',
      operator: 'GT',
      threshold: 5,
      severity: 3,
      ...fields,
    });
  it.each([
    ['GT', 'GT'],
    ['<=', 'LTE'],
    ['>', 'GT'],
  ])('operator %s becomes %s', (operator, expected) => {
    expect(rule({ operator })).toHaveProperty('row.operator', expected);
  });
  it.each([
    [{ operator: '==' }, 'operator == on a number'],
    [{ metric_name: null, rule_type: 'anomaly' }, 'no metric_name'],
    [{ threshold: null }, 'no numeric threshold'],
    [{ severity: 9 }, 'severity 9 is not 1-5'],
  ])('%o is refused', (fields, reason) => {
    expect(rule(fields)).toHaveProperty('refused', expect.stringContaining(reason));
  });
  it('reads severity words of later levels', () => {
    expect(rule({ severity: 'critical' })).toHaveProperty('row.severity', 5);
  });
});

describe('mapRoute and mapAlert', () => {
  const route = { tenant_id: 't', route_id: '00000000-0000-4000-8000-000000000001', integration_id: 'i1', name: 'r' };
  it('needs its integration in Pulse, known alert types and events; upper-cases severities', () => {
    expect(mapRoute(route, new Set())).toHaveProperty('refused', 'its integration i1 is not in Pulse');
    expect(mapRoute({ ...route, alert_types: ['ANOMALY'] }, new Set(['i1']))).toHaveProperty(
      'refused',
      'alert type ANOMALY does not exist in Pulse',
    );
    expect(mapRoute({ ...route, severities: ['critical', 'high'] }, new Set(['i1']))).toHaveProperty('row.severities', [
      'CRITICAL',
      'HIGH',
    ]);
  });
  it('brings OPEN and ACKNOWLEDGED device alerts of devices in Pulse', () => {
    const alert = {
      id: 7,
      tenant_id: 't',
      device_id: 'd1',
      site_id: 's',
      alert_type: 'THRESHOLD',
      fingerprint: 'RULE:r:d1',
      status: 'OPEN',
      severity: 2,
    };
    expect(mapAlert(alert, new Set(['d1']))).toHaveProperty('row.source_alert_id', 7);
    expect(mapAlert(alert, new Set())).toHaveProperty('refused', 'its device is not in Pulse');
    expect(mapAlert({ ...alert, alert_type: 'NO_TELEMETRY' }, new Set(['d1']))).toHaveProperty(
      'refused',
      'alert type NO_TELEMETRY does not exist in Pulse',
    );
  });
});

describe('the source and the telemetry window', () => {
  const shape = (tables: Record<string, string[]>): SourceShape => ({
    tables: new Map(Object.entries(tables).map(([name, columns]) => [name, new Set(columns)])),
    seesEveryRow: true,
    timescale: false,
  });
  const original = {
    device_registry: ['provision_token_hash'],
    device_state: [],
    fleet_alert: [],
    alert_rules: ['metric_name'],
    integrations: [],
  };
  it('tells an original from other databases', () => {
    expect(sourceProblem(shape(original))).toBeUndefined();
    expect(sourceLevel(shape(original))).toBe('migration 025 or later');
    expect(sourceProblem(shape({}))).toContain('no device_registry, device_state, fleet_alert, alert_rules tables');
    expect(
      sourceProblem(shape({ ...original, device_registry: ['provision_token_hash', 'tags', 'attributes'] })),
    ).toContain('a Pulse database');
    const { integrations: _dropped, ...at071 } = original;
    expect(sourceProblem(shape({ ...at071, notification_channels: [] }))).toContain('071 or later');
  });

  it('starts at --telemetry-since, or after the last row imported, never earlier than before', () => {
    const since = new Date('2026-01-02T00:00:00Z');
    expect(telemetryWindow(since, 'S', undefined)).toEqual({ after: 'S', inclusive: true, before: null });
    const previous = {
      since: new Date('2026-01-01T00:00:00Z'),
      through: new Date('2026-01-05T00:00:00Z'),
      throughText: 'B',
    };
    expect(telemetryWindow(since, 'S', previous)).toEqual({ after: 'B', inclusive: false, before: null });
    expect(telemetryWindow(new Date('2026-01-06T00:00:00Z'), 'S', previous)).toEqual({
      after: 'S',
      inclusive: true,
      before: null,
    });
    expect(telemetryWindow(new Date('2025-12-31T00:00:00Z'), 'S', previous)).toHaveProperty(
      'refused',
      expect.stringContaining('may not be earlier'),
    );
  });
});
