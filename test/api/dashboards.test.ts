// Dashboards customers build (issue 32): the built-in dashboard a tenant starts with; create (import),
// change, duplicate, export and delete by a customer_admin, viewing only by a viewer; every widget type's
// data in one call, narrowed by the variables; import errors naming the path; share links that show one
// dashboard without a login until expired or revoked, live by events that carry no data; and tenant B
// reaching nothing of tenant A's (application and row-level security); on both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedAlert, seedDevice, seedReadings } from '../helpers/seed.js';

const A = 'db-a';
const B = 'db-b';

const at = (x: number, y: number, w = 4, h = 3) => ({ x, y, w, h });
/** One widget of every type, over the seeded devices. */
const everyWidget = [
  {
    id: 'temps',
    type: 'timeseries',
    title: 'Temperatures',
    layout: at(0, 0, 6),
    options: { metrics: ['temp_c'], devices: ['fr-1', '$device'], stats: ['avg', 'max'] },
  },
  {
    id: 'fleet-temp',
    type: 'timeseries',
    layout: at(6, 0, 6),
    options: { metrics: ['temp_c'], stats: ['avg', 'max'] },
  },
  { id: 'by-site', type: 'timeseries', layout: at(0, 14, 6), options: { metrics: ['temp_c'], group_by: 'site' } },
  {
    id: 'site-bars',
    type: 'bar',
    layout: at(6, 14, 6),
    options: { group_by: 'site', metric: 'temp_c', stat: 'max' },
  },
  {
    id: 'hot',
    type: 'stat',
    layout: at(0, 3, 2, 2),
    options: { metric: 'temp_c', device: 'fr-1', stat: 'max', thresholds: [{ value: 25, color: '#dc2626' }] },
  },
  { id: 'online', type: 'stat', layout: at(2, 3, 2, 2), options: { metric: 'fleet:ONLINE' } },
  { id: 'gauge', type: 'gauge', layout: at(4, 3, 2, 2), options: { metric: 'temp_c', min: -30, max: 40 } },
  { id: 'statuses', type: 'bar', layout: at(6, 3), options: { group_by: 'status' } },
  { id: 'trend', type: 'bar', layout: at(0, 16, 6), options: { group_by: 'alerts_per_hour' } },
  {
    id: 'devices',
    type: 'table',
    layout: at(0, 6, 6),
    options: { columns: ['device_id', 'site_id', 'status', 'metric:temp_c'], sort: 'device_id' },
  },
  { id: 'alerts', type: 'alerts', layout: at(6, 6, 6), options: { status: 'OPEN', min_severity: 2 } },
  { id: 'door', type: 'states', layout: at(0, 9, 6), options: { device: 'fr-1', metric: 'door' } },
  { id: 'where', type: 'map', layout: at(6, 9, 6), options: {} },
  { id: 'note', type: 'text', layout: at(0, 12, 12, 2), options: { markdown: '# Cold room\n<script>x</script>' } },
];
const widget = (id: string) => everyWidget.find((w) => w.id === id)!;
const board = (name: string, widgets: unknown[] = everyWidget) => ({
  version: 1,
  name,
  time: { from: 'now-6h', to: 'now' },
  variables: ['site', 'device'],
  widgets,
});

describe.each<Engine>(['pglite', 'postgres'])('dashboards on %s', (engine) => {
  let pulse: TestPlatform;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const anonymous = (path: string, method = 'GET', json?: unknown) =>
    pulse.call(path, { admin: false, method, ...(json !== undefined && { json }) });
  let dashboardId: string;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, ['api']);
    await seedDevice(pulse.db, A, 'fr-1', 's1');
    await seedDevice(pulse.db, A, 'fr-2', 's2', 'STALE');
    await seedDevice(pulse.db, B, 'fr-b', 's1');
    const base = { 'fr-1': 20, 'fr-2': 4 } as Record<string, number>;
    await seedReadings(pulse.db, A, ['fr-1', 'fr-2'], { count: 30, stepMinutes: 5 }, (device, i) => ({
      temp_c: base[device]! + (i % 7),
      door: i % 10 < 5 ? 'open' : 'closed',
      position: { lat: 48.1 + i / 1000, lon: 11.5 },
    }));
    await seedAlert(pulse.db, { tenantId: A, deviceId: 'fr-2' });
    // Opened two hours ago and closed since: one opened and one closed in the alerts-per-hour bars.
    await seedAlert(pulse.db, {
      tenantId: A,
      deviceId: 'fr-1',
      status: 'CLOSED',
      createdAt: new Date(Date.now() - 2 * 3_600_000),
    });
    users.adminA = await tokenFor(pulse, { username: 'db-admin-a', role: 'customer_admin', tenantId: A });
    users.viewerA = await tokenFor(pulse, { username: 'db-viewer-a', role: 'customer_viewer', tenantId: A });
    users.adminB = await tokenFor(pulse, { username: 'db-admin-b', role: 'customer_admin', tenantId: B });
  });
  afterAll(() => pulse?.close());

  it('shows a tenant without dashboards the built-in one, with its data', async () => {
    const list = await call('viewerA', '/customer/dashboards');
    expect(list.status).toBe(200);
    expect(list.body.dashboards).toEqual([]);
    expect(list.body.built_in.widgets.map((w: { type: string }) => w.type)).toContain('alerts');
    const view = await call('viewerA', '/customer/dashboards/default');
    expect(view.body).toMatchObject({ built_in: true, dashboard_id: 'default' });
    const data = await call('viewerA', '/customer/dashboards/default/data', 'POST', {});
    expect(data.status).toBe(200);
    expect(data.body.widgets.devices.value).toBe(2);
    expect(data.body.widgets.online.value).toBe(1);
    expect(data.body.widgets.stale.value).toBe(1);
    expect(data.body.widgets['open-alerts'].value).toBe(1);
    expect(data.body.widgets['online-pct'].value).toBe(50);
  });

  it('lets an admin create a dashboard of every widget type, which a viewer sees but cannot change', async () => {
    const created = await call('adminA', '/customer/dashboards', 'POST', board('Cold room'));
    expect(created.status).toBe(201);
    dashboardId = created.body.dashboard_id;
    expect(created.body.definition.widgets).toHaveLength(everyWidget.length);
    // Defaults filled in: a table's limit, a stat's thresholds.
    expect(created.body.definition.widgets.find((w: { id: string }) => w.id === 'devices').options.limit).toBe(10);
    expect(created.body.choices.sites).toEqual(['s1', 's2']);
    expect(created.body.choices.tags).toEqual([]);

    const seen = await call('viewerA', `/customer/dashboards/${dashboardId}`);
    expect(seen.status).toBe(200);
    expect(seen.body.definition.name).toBe('Cold room');
    expect(
      (await call('viewerA', '/customer/dashboards')).body.dashboards.map((d: { name: string }) => d.name),
    ).toEqual(['Cold room']);
    for (const [method, path, body] of [
      ['POST', '/customer/dashboards', board('Mine')],
      ['PUT', `/customer/dashboards/${dashboardId}`, board('Renamed')],
      ['POST', `/customer/dashboards/${dashboardId}/duplicate`, undefined],
      ['DELETE', `/customer/dashboards/${dashboardId}`, undefined],
      ['POST', `/customer/dashboards/${dashboardId}/shares`, {}],
    ] as const)
      expect((await call('viewerA', path, method, body)).status, `${method} ${path}`).toBe(403);
    expect((await call('viewerA', `/customer/dashboards/${dashboardId}`)).body.definition.name).toBe('Cold room');
  });

  it("answers every widget's data in one call, saying which resolution answered", async () => {
    const data = await call('viewerA', `/customer/dashboards/${dashboardId}/data`, 'POST', {
      variables: { device: 'fr-2' },
    });
    expect(data.status).toBe(200);
    const { widgets } = data.body;
    expect(Object.keys(widgets).sort()).toEqual(everyWidget.map((w) => w.id).sort());
    expect(widgets.temps.series.map((s: { label: string }) => s.label)).toEqual(['fr-1 temp_c', 'fr-2 temp_c']);
    expect(widgets.temps.series[0].points.length).toBeGreaterThan(5);
    expect(['raw', '1m', '1h']).toContain(widgets.temps.resolution);
    expect(['1m', '1h']).toContain(widgets['fleet-temp'].resolution);
    expect(widgets.hot.value).toBe(26);
    expect(widgets.online.value).toBe(1);
    expect(widgets.gauge.value).toBeGreaterThan(4);
    expect(widgets.statuses.bars).toContainEqual({ label: 'STALE', value: 1 });
    // The range's hours (6 h: 7 hours begun), alerts opened and closed in each.
    const trend = widgets.trend.trend as { hour: string; opened: number; closed: number }[];
    expect(trend).toHaveLength(7);
    expect(trend.reduce((sum, hour) => sum + hour.opened, 0)).toBe(2);
    expect(trend.at(-1)!.closed).toBe(1);
    expect(trend.at(-3)!.opened).toBe(1);
    expect(widgets['by-site'].series.map((s: { label: string }) => s.label)).toEqual(['s1 temp_c', 's2 temp_c']);
    expect(widgets['site-bars'].bars).toEqual([
      { label: 's1', value: 26 },
      { label: 's2', value: 10 },
    ]);
    expect(widgets.devices.rows).toEqual([
      { device_id: 'fr-1', site_id: 's1', status: 'ONLINE', 'metric:temp_c': 21.5 },
      { device_id: 'fr-2', site_id: 's2', status: 'STALE', 'metric:temp_c': 21.5 },
    ]);
    expect(widgets.alerts.alerts.map((a: { device_id: string }) => a.device_id)).toEqual(['fr-2']);
    expect(widgets.door.resolution).toBe('raw');
    expect(widgets.door.segments.map((s: { value: string }) => s.value).slice(0, 3)).toEqual([
      'open',
      'closed',
      'open',
    ]);
    expect(widgets.where.positions.map((p: { device_id: string }) => p.device_id)).toEqual(['fr-1', 'fr-2']);
    expect(widgets.note).toEqual({ resolution: null });
  });

  it('narrows fleet widgets by the site variable and reads a chosen range', async () => {
    const data = await call('viewerA', `/customer/dashboards/${dashboardId}/data`, 'POST', {
      time: { from: new Date(Date.now() - 3600_000).toISOString(), to: new Date().toISOString() },
      variables: { site: 's2', device: 'fr-1' },
    });
    expect(data.status).toBe(200);
    const { widgets } = data.body;
    expect(widgets.devices.rows.map((row: { device_id: string }) => row.device_id)).toEqual(['fr-2']);
    expect(widgets.online.value).toBe(0);
    const fleetMax = Math.max(...widgets['fleet-temp'].series[0].points.map((p: { max: number }) => p.max));
    expect(fleetMax).toBe(10);
    // A point carries the statistics its chart draws, no more.
    expect(Object.keys(widgets['fleet-temp'].series[0].points[0])).toEqual(['time', 'avg', 'max']);
    expect(Object.keys(widgets['by-site'].series[0].points[0])).toEqual(['time', 'avg']);
    expect(widgets['site-bars'].bars).toEqual([{ label: 's2', value: 10 }]);
    // Narrowed to s2's device: its alert only.
    const narrowedTrend = widgets.trend.trend as { opened: number; closed: number }[];
    expect(narrowedTrend.reduce((sum, hour) => sum + hour.opened + hour.closed, 0)).toBe(1);
    expect(widgets.where.positions.map((p: { device_id: string }) => p.device_id)).toEqual(['fr-2']);
    expect(new Date(data.body.end).getTime() - new Date(data.body.start).getTime()).toBeLessThan(3601_000);
    // Widgets being edited are read with the variables their draft declares.
    const draft = await call('viewerA', `/customer/dashboards/${dashboardId}/data`, 'POST', {
      widgets: [widget('online')],
      declared_variables: ['site', 'device', 'tag'],
      variables: { tag: 'no-such-tag' },
    });
    expect(draft.body.widgets.online.value).toBe(0);
    // A variable the dashboard does not declare (left in a URL) narrows nothing.
    const undeclared = await call('viewerA', `/customer/dashboards/${dashboardId}/data`, 'POST', {
      variables: { tag: 'no-such-tag', device: 'fr-1' },
    });
    expect(undeclared.body.widgets.online.value).toBe(1);
    expect(undeclared.body.widgets['site-bars'].bars).toHaveLength(2);
    // A widget needing $device says so when none is chosen; the others are answered.
    const without = await call('viewerA', `/customer/dashboards/${dashboardId}/data`, 'POST', {});
    expect(without.body.widgets.temps.error).toBe('Choose a device');
    expect(without.body.widgets.hot.value).toBe(26);
  });

  it('refuses a wrong document with a 422 naming the path', async () => {
    const cases: [unknown, string][] = [
      [{ ...board('x'), version: 2 }, '/version'],
      [board('x', [{ ...widget('hot'), options: { metric: 'temp c' } }]), '/widgets/0/options/metric'],
      [board('x', [{ ...widget('temps'), type: 'pie' }]), '/widgets/0/type'],
      [board('x', [widget('hot'), widget('hot')]), '/widgets/1/id'],
      [board('x', [{ ...widget('hot'), layout: at(10, 0, 4) }]), '/widgets/0/layout'],
      [{ ...board('x'), variables: ['site'] }, '/widgets/0/options'],
      [{ ...board('x'), time: { from: 'now', to: 'now-1h' } }, '/time/from'],
      [{ name: 'x' }, '/version'],
      ['not json object', '/'],
    ];
    for (const [body, path] of cases) {
      const answer = await call('adminA', '/customer/dashboards', 'POST', body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(answer.body.detail[0].msg).toContain(`Invalid dashboard at ${path}:`);
      expect(answer.body.detail[0].loc).toEqual(['body', ...path.split('/').filter(Boolean)]);
    }
    expect((await call('adminA', '/customer/dashboards')).body.dashboards).toHaveLength(1);
  });

  it('exports a dashboard that imports as an equal one, duplicates, changes and deletes', async () => {
    const exported = await call('adminA', `/customer/dashboards/${dashboardId}/export`);
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toContain('cold-room.json');
    const imported = await call('adminA', '/customer/dashboards', 'POST', exported.body);
    expect(imported.status).toBe(201);
    expect(imported.body.definition).toEqual(exported.body);

    const copy = await call('adminA', `/customer/dashboards/${dashboardId}/duplicate`, 'POST');
    expect(copy.body.definition.name).toBe('Cold room (copy)');
    const moved = structuredClone(exported.body);
    moved.widgets[0].layout = at(0, 20, 12, 6);
    moved.name = 'Cold room, moved';
    const changed = await call('adminA', `/customer/dashboards/${copy.body.dashboard_id}`, 'PUT', moved);
    expect(changed.status).toBe(200);
    expect(changed.body.definition.widgets[0].layout).toEqual(at(0, 20, 12, 6));

    expect((await call('adminA', `/customer/dashboards/${copy.body.dashboard_id}`, 'DELETE')).status).toBe(204);
    expect((await call('adminA', `/customer/dashboards/${copy.body.dashboard_id}`)).status).toBe(404);
    expect((await call('adminA', `/customer/dashboards/${imported.body.dashboard_id}`, 'DELETE')).status).toBe(204);
    const saved = await call('adminA', '/customer/dashboards/default/duplicate', 'POST');
    expect(saved.body).toMatchObject({ built_in: false, definition: { name: 'Fleet overview' } });
    expect((await call('adminA', `/customer/dashboards/${saved.body.dashboard_id}`, 'DELETE')).status).toBe(204);
  });

  it('shares one dashboard read-only without a login until the link is revoked or expires', async () => {
    const shared = await call('adminA', `/customer/dashboards/${dashboardId}/shares`, 'POST', { expires_in_hours: 2 });
    expect(shared.status).toBe(201);
    const { token } = shared.body;
    const view = await anonymous(`/api/shared-dashboards/${token}`);
    expect(view.status).toBe(200);
    expect(view.body.definition.name).toBe('Cold room');
    expect(Object.keys(view.body)).toEqual(['definition', 'choices']);
    const data = await anonymous(`/api/shared-dashboards/${token}/data`, 'POST', { variables: { device: 'fr-1' } });
    expect(data.status).toBe(200);
    expect(data.body.widgets.hot.value).toBe(26);
    // Only its stored widgets: a link cannot be used to read anything else of the tenant.
    expect((await anonymous(`/api/shared-dashboards/${token}/data`, 'POST', { widgets: [] })).status).toBe(422);
    expect((await anonymous(`/api/shared-dashboards/${token}x`)).status).toBe(404);
    // The token itself is not stored.
    const stored = await pulse.db.withTenant(A, (tx) => tx.query(`SELECT token_hash FROM dashboard_shares`));
    expect(JSON.stringify(stored.rows)).not.toContain(token);

    const listed = await call('adminA', `/customer/dashboards/${dashboardId}/shares`);
    expect(listed.body.shares).toHaveLength(1);
    const revoked = await call(
      'adminA',
      `/customer/dashboards/${dashboardId}/shares/${shared.body.share.share_id}`,
      'DELETE',
    );
    expect(revoked.status).toBe(200);
    expect((await anonymous(`/api/shared-dashboards/${token}`)).status).toBe(404);
    expect((await anonymous(`/api/shared-dashboards/${token}/data`, 'POST', {})).status).toBe(404);

    const expiring = await call('adminA', `/customer/dashboards/${dashboardId}/shares`, 'POST', {});
    expect((await anonymous(`/api/shared-dashboards/${expiring.body.token}`)).status).toBe(200);
    await pulse.db.withTenant(A, (tx) =>
      tx.query(`UPDATE dashboard_shares SET expires_at = now() - interval '1 second' WHERE share_id = $1`, [
        expiring.body.share.share_id,
      ]),
    );
    expect((await anonymous(`/api/shared-dashboards/${expiring.body.token}`)).status).toBe(404);
  });

  it("streams a shared dashboard's live changes without data, for its tenant's devices only, until revoked", async () => {
    const shared = await call('adminA', `/customer/dashboards/${dashboardId}/shares`, 'POST', {});
    const { token } = shared.body;
    const response = await fetch(`${pulse.base}/api/shared-dashboards/${token}/live?device=fr-1`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let text = '';
      for await (const chunk of response.body!) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          events.push(text.slice(0, end));
          text = text.slice(end + 2);
        }
      }
    })();
    const telemetryOf = (tenant: string, device: string) => ({
      time: new Date(),
      tenant_id: tenant,
      device_id: device,
      site_id: 's1',
      msg_type: 'telemetry',
      seq: 1,
      metrics: { temp_c: 99 },
    });
    const changes = () => events.filter((event) => event.startsWith('event: changed'));
    await expect.poll(() => events.length).toBeGreaterThan(0);
    // Another tenant's device with the same name changes nothing here.
    pulse.bus.publish('telemetry.accepted', [telemetryOf(B, 'fr-1')]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(changes()).toEqual([]);
    pulse.bus.publish('telemetry.accepted', [telemetryOf(A, 'fr-1')]);
    await expect.poll(() => changes().length).toBe(1);
    // The event says only that something changed: no reading, no device, no alert.
    expect(changes()[0]).toBe('event: changed\ndata: {}');
    await call('adminA', `/customer/dashboards/${dashboardId}/shares/${shared.body.share.share_id}`, 'DELETE');
    await expect.poll(() => events.at(-1), { timeout: 5000 }).toBe('event: gone\ndata: {}');
    await reading;
    expect((await fetch(`${pulse.base}/api/shared-dashboards/${token}/live`)).status).toBe(404);
  }, 30_000);

  it("lets tenant B neither see nor touch tenant A's dashboards", async () => {
    const base = `/customer/dashboards/${dashboardId}`;
    expect((await call('adminB', '/customer/dashboards')).body.dashboards).toEqual([]);
    for (const [method, path, body] of [
      ['GET', base, undefined],
      ['GET', `${base}/export`, undefined],
      ['POST', `${base}/data`, {}],
      ['PUT', base, board('Taken')],
      ['POST', `${base}/duplicate`, undefined],
      ['GET', `${base}/shares`, undefined],
      ['POST', `${base}/shares`, {}],
      ['DELETE', base, undefined],
    ] as const)
      expect((await call('adminB', path, method, body)).status, `${method} ${path}`).toBe(404);
    // Row-level security as well: B's transactions hold none of A's rows, even asked for by id.
    const rows = await pulse.db.withTenant(B, (tx) =>
      tx.query(`SELECT 1 FROM dashboards UNION ALL SELECT 1 FROM dashboard_shares`),
    );
    expect(rows.rows).toEqual([]);
    expect((await call('adminA', base)).body.definition.name).toBe('Cold room');
  });
});
