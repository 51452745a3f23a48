// Telemetry export (issue 17): a device's or the tenant's rows over a window as CSV or NDJSON, streamed a
// page at a time; every stored row exactly once (rows sharing an instant and exact duplicates across page
// boundaries included), tenant-scoped, bounded per tenant; on both engines.
import { get as httpGet, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { exportPages } from '../../src/model/telemetry-export.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedDevice } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;
const START = Date.UTC(2026, 10, 20); // within the default partitions' reach: telemetry_default holds it

describe.each<Engine>(['pglite', 'postgres'])('telemetry export on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const get = (who: string, path: string) =>
    fetch(`${pulse.base}${path}`, { headers: bearer(tokens[who]!) as Record<string, string> });
  const window = `start=${new Date(START).toISOString()}&end=${new Date(START + 3 * DAY).toISOString()}`;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, ['api']);
    await seedDevice(pulse.db, 'ex-a', 'e-1', 'site-1');
    await seedDevice(pulse.db, 'ex-a', 'e-2', 'site-1');
    await seedDevice(pulse.db, 'ex-b', 'b-1', 'site-1');
    await seedDevice(pulse.db, 'ex-c', 'c-1', 'site-1');
    await seedDevice(pulse.db, 'ex-d', 'd-1', 'site-1');
    await pulse.db.withService(async (tx) => {
      // e-1: 4,500 rows over two days, three at each instant, the last 10 stored twice (duplicates),
      // plus heartbeats; a site with a comma and a quote.
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT to_timestamp($1 / 1000.0) + (i / 3) * interval '2 minutes', 'ex-a', 'e-1', 'hall "A", 2', 'telemetry', i,
                jsonb_build_object('temp_c', i * 0.5, 'uplink_ok', i % 2 = 0)
         FROM generate_series(1, 4500) AS i`,
        [START],
      );
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT time, tenant_id, device_id, site_id, msg_type, seq, metrics FROM telemetry
         WHERE device_id = 'e-1' AND seq > 4490`,
      );
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT to_timestamp($1 / 1000.0) + i * interval '1 hour', 'ex-a', 'e-2', 'site-1', 'heartbeat', i, '{}'
         FROM generate_series(1, 40) AS i`,
        [START],
      );
      // Days 5-6: enough for a download larger than what sockets buffer (the concurrency test).
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT to_timestamp($1 / 1000.0) + interval '5 days' + i * interval '1 second', 'ex-a', 'e-2', 'site-1',
                'telemetry', i, jsonb_build_object('temp_c', i, 'humidity_pct', 50, 'pressure_hpa', 1013)
         FROM generate_series(1, 100000) AS i`,
        [START],
      );
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         VALUES (to_timestamp($1 / 1000.0) + interval '1 hour', 'ex-b', 'b-1', 'site-1', 'telemetry', 1, '{"secret_b": 1}')`,
        [START],
      );
      // Values JavaScript prints in its own way: a numeric stored with a trailing zero, exponents, a text
      // to quote, a position; an instant with microseconds; no site.
      await tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics) VALUES
         (to_timestamp($1 / 1000.0) + interval '3 hours 0.123456 seconds', 'ex-d', 'd-1', NULL, 'telemetry', 9007199254740993,
          $2),
         (to_timestamp($1 / 1000.0) + interval '4 hours', 'ex-d', 'd-1', NULL, 'heartbeat', 2, '{}')`,
        [
          START,
          '{"n": 1.50, "big": 1e21, "tiny": 0.0000001, "text": "a, \\"b\\"", "pos": {"lat": 1.5, "lon": -2.25}, "flag": true}',
        ],
      );
    });
    tokens.viewerD = await tokenFor(pulse, { username: 'ex-viewer-d', role: 'customer_viewer', tenantId: 'ex-d' });
    tokens.viewerA = await tokenFor(pulse, { username: 'ex-viewer-a', role: 'customer_viewer', tenantId: 'ex-a' });
    tokens.viewerB = await tokenFor(pulse, { username: 'ex-viewer-b', role: 'customer_viewer', tenantId: 'ex-b' });
    tokens.viewerC = await tokenFor(pulse, { username: 'ex-viewer-c', role: 'customer_viewer', tenantId: 'ex-c' });
  }, 90_000);
  afterAll(() => pulse?.close());

  it('gives every row exactly once across pages, even rows sharing an instant and exact duplicates', async () => {
    for (const pageSize of [7, 1000]) {
      let count = 0;
      let last = 0;
      const seqs = new Map<number, number>();
      for await (const page of exportPages(
        (fn) => pulse.db.withTenant('ex-a', fn),
        {
          deviceId: 'e-1',
          start: new Date(START),
          end: new Date(START + 3 * DAY),
        },
        pageSize,
      )) {
        for (const row of page) {
          count += 1;
          expect(Date.parse(`${row.utc}Z`)).toBeGreaterThanOrEqual(last);
          last = Date.parse(`${row.utc}Z`);
          seqs.set(Number(row.seq), (seqs.get(Number(row.seq)) ?? 0) + 1);
        }
      }
      expect(count, `page size ${pageSize}`).toBe(4510);
      expect(seqs.get(4495)).toBe(2);
      expect(seqs.get(4000)).toBe(1);
    }
  });

  it("streams a device's window as CSV: a column per metric, fields quoted, the stored rows in order", async () => {
    const response = await get('viewerA', `/api/v2/devices/e-1/telemetry/export?${window}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="e-1-20261120T0000-20261123T0000\.csv"$/,
    );
    const lines = (await response.text()).split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('time,device_id,site_id,msg_type,seq,temp_c,uplink_ok');
    expect(lines).toHaveLength(1 + 4510);
    expect(lines[1]).toBe(`2026-11-20T00:00:00.000+00:00,e-1,"hall ""A"", 2",telemetry,1,0.5,false`);
    expect(lines[2]).toBe(`2026-11-20T00:00:00.000+00:00,e-1,"hall ""A"", 2",telemetry,2,1,true`);
  });

  it('streams NDJSON, and the fleet with only the metrics asked for', async () => {
    const ndjson = await get('viewerA', `/api/v2/devices/e-2/telemetry/export?${window}&format=ndjson`);
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson');
    const rows = (await ndjson.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(40);
    expect(rows[0]).toEqual({
      time: '2026-11-20T01:00:00.000+00:00',
      device_id: 'e-2',
      site_id: 'site-1',
      msg_type: 'heartbeat',
      seq: 1,
      metrics: {},
    });

    const fleet = await get('viewerA', `/api/v2/telemetry/export?${window}&metrics=uplink_ok`);
    const lines = (await fleet.text()).split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('time,device_id,site_id,msg_type,seq,uplink_ok');
    expect(lines).toHaveLength(1 + 4510); // e-2's heartbeats carry no uplink_ok
    const everything = (await (await get('viewerA', `/api/v2/telemetry/export?${window}`)).text()).split('\r\n');
    expect(everything.filter(Boolean)).toHaveLength(1 + 4510 + 40);
  });

  it('exports the devices a selector picks: by tag, attribute or site, the same as the devices list', async () => {
    await pulse.db.withService((tx) =>
      tx.query(`UPDATE device_registry SET tags = '{cold}', attributes = '{"model": "X1"}'
                WHERE tenant_id = 'ex-a' AND device_id = 'e-2'`),
    );
    const lines = async (query: string, who = 'viewerA') =>
      (await (await get(who, `/api/v2/telemetry/export?${window}&${query}`)).text()).split('\r\n').filter(Boolean);
    const devicesOf = (csv: string[]) => [...new Set(csv.slice(1).map((line) => line.split(',')[1]))];
    const tagged = await lines('tag=cold');
    expect(devicesOf(tagged)).toEqual(['e-2']);
    expect(tagged).toHaveLength(1 + 40);
    expect(await lines('attr=model:eq:X1&format=csv')).toEqual(tagged);
    expect(devicesOf(await lines('site_id=site-1'))).toEqual(expect.arrayContaining(['e-1', 'e-2']));
    expect(await lines('tag=nothing-has-this')).toEqual(['time,device_id,site_id,msg_type,seq']);
    // Another tenant's selector never reaches tenant A's devices, even by a tag A uses.
    expect(await lines('tag=cold', 'viewerB')).toEqual(['time,device_id,site_id,msg_type,seq']);
    const bad = await get('viewerA', `/api/v2/telemetry/export?${window}&attr=model`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/key:op:value/);
  });

  it('writes values as JavaScript prints them: numbers, exponents, quoted texts, positions, milliseconds', async () => {
    const csv = await (await get('viewerD', `/api/v2/telemetry/export?${window}`)).text();
    expect(csv).toBe(
      'time,device_id,site_id,msg_type,seq,big,flag,n,pos,text,tiny\r\n' +
        '2026-11-20T03:00:00.123+00:00,d-1,,telemetry,9007199254740992,1e+21,true,1.5,"{""lat"":1.5,""lon"":-2.25}","a, ""b""",1e-7\r\n' +
        '2026-11-20T04:00:00.000+00:00,d-1,,heartbeat,2,,,,,,\r\n',
    );
    const ndjson = await (await get('viewerD', `/api/v2/devices/d-1/telemetry/export?${window}&format=ndjson`)).text();
    expect(ndjson).toBe(
      '{"time":"2026-11-20T03:00:00.123+00:00","device_id":"d-1","site_id":null,"msg_type":"telemetry","seq":9007199254740992,' +
        '"metrics":{"n":1.5,"big":1e+21,"pos":{"lat":1.5,"lon":-2.25},"flag":true,"text":"a, \\"b\\"","tiny":1e-7}}\n' +
        '{"time":"2026-11-20T04:00:00.000+00:00","device_id":"d-1","site_id":null,"msg_type":"heartbeat","seq":2,"metrics":{}}\n',
    );
    const listed = await (
      await get('viewerD', `/api/v2/telemetry/export?${window}&format=ndjson&metrics=tiny,n`)
    ).text();
    expect(listed).toContain('"metrics":{"n":1.5,"tiny":1e-7}}\n');
  });

  it("never exports another tenant's rows", async () => {
    expect((await get('viewerB', `/api/v2/devices/e-1/telemetry/export?${window}`)).status).toBe(404);
    const fleet = await (await get('viewerB', `/api/v2/telemetry/export?${window}&format=ndjson`)).text();
    expect(
      fleet
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).device_id),
    ).toEqual(['b-1']);
    const mine = await (await get('viewerA', `/api/v2/telemetry/export?${window}`)).text();
    expect(mine).not.toContain('secret_b');
  });

  it('says what to fix in a bad request', async () => {
    expect((await get('viewerA', `/api/v2/devices/e-1/telemetry/export?${window}&format=xml`)).status).toBe(422);
    const long = await get('viewerA', `/api/v2/telemetry/export?start=2026-09-01T00:00:00Z&end=2026-11-01T00:00:00Z`);
    expect(long.status).toBe(422);
    expect(JSON.stringify(await long.json())).toContain('at most 31 days');
    expect((await get('viewerA', `/api/v2/devices/nope/telemetry/export?${window}`)).status).toBe(404);
  });

  // Large downloads whose readers stop reading at once: TCP backpressure stalls their streams, which hold
  // their slots.
  const big = `start=${new Date(START + 5 * DAY).toISOString()}&end=${new Date(START + 7 * DAY).toISOString()}`;
  const stalled = (path = '/api/v2/telemetry/export', who = 'viewerA') =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpGet(
        `${pulse.base}${path}?${big}`,
        { headers: bearer(tokens[who]!) as Record<string, string> },
        (response) => {
          response.pause();
          resolve(response);
        },
      );
      request.on('error', reject);
    });

  it('runs at most two exports of a tenant at once; a slot frees when a download ends', async () => {
    const held = [await stalled(), await stalled()];
    expect(held.map((response) => response.statusCode)).toEqual([200, 200]);
    const third = await get('viewerA', `/api/v2/devices/e-2/telemetry/export?${window}`);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('10');
    // Another tenant is not held up.
    expect((await get('viewerB', `/api/v2/telemetry/export?${window}`)).status).toBe(200);
    for (const response of held) response.destroy();
    await waitFor(async () => {
      const again = await get('viewerA', `/api/v2/devices/e-2/telemetry/export?${window}`);
      await again.body?.cancel();
      return again.status === 200;
    }, 5000);
  }, 90_000);

  it('of 20 exports asked for at once, takes exactly two and refuses the rest with 429, whatever the route', async () => {
    // A tenant of its own (no slot still held by the tests before), with as many rows as e-2.
    await pulse.db.withService((tx) =>
      tx.query(
        `INSERT INTO telemetry (time, tenant_id, device_id, site_id, msg_type, seq, metrics)
         SELECT time, 'ex-c', 'c-1', site_id, msg_type, seq, metrics FROM telemetry WHERE tenant_id = 'ex-a' AND device_id = 'e-2'`,
      ),
    );
    const paths = ['/api/v2/telemetry/export', '/api/v2/devices/c-1/telemetry/export'];
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => stalled(paths[i % 2], 'viewerC')));
    try {
      const statuses = responses.map((response) => response.statusCode);
      expect(statuses.filter((status) => status === 200)).toHaveLength(2);
      expect(statuses.filter((status) => status === 429)).toHaveLength(18);
      const refused = responses.find((response) => response.statusCode === 429)!;
      refused.resume();
      const body = await new Promise<string>((resolve) => {
        let text = '';
        refused.on('data', (chunk: Buffer) => (text += chunk.toString()));
        refused.on('end', () => resolve(text));
      });
      expect(JSON.parse(body).detail).toBe(
        '2 exports of this tenant are running, the most EXPORTS_PER_TENANT allows; retry when one ends',
      );
    } finally {
      for (const response of responses) response.destroy();
    }
    await waitFor(async () => {
      const again = await get('viewerC', `/api/v2/devices/c-1/telemetry/export?${window}`);
      await again.body?.cancel();
      return again.status === 200;
    }, 5000);
  }, 90_000);
});
