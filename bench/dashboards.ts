// A 12-widget dashboard over a month of a fleet (issue 32): `npm run bench:dashboards -- [--devices 2000]
// [--days 30] [--interval 300] [--raw-days 2] [--runs 10] [--keep yes | --reuse <database>]`. A fresh
// PostgreSQL database gets the month (bench/month-seed.ts: the last `raw-days` as raw rows with every rollup
// rebuilt, the days before as 1-hour rollups), devices get tags and positions, and a dashboard of twelve
// widgets of every kind over the last 30 days is stored with a share link; `pulse run api` alone serves it.
// Timed: the one data call answering every widget (POST …/data, `runs` times, signed in), each widget read
// alone, and in Debian's Chromium the shared page from navigation until every widget has drawn (charts:
// ECharts' `finished`), `runs` times, with when its data call started and ended — the share link's page,
// and the dashboard opened anew in a signed-in tab. Prints p50/p95/max and writes
// bench/results/dashboards-*.json.
import { launchChromium } from '../test/helpers/chromium.js';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { startNatsCluster } from '../test/helpers/nats.js';
import { sha256Hex } from '../src/lib/credentials.js';
import { checkDashboard } from '../src/model/dashboard-schema.js';
import { seedMonth } from './month-seed.js';
import { pulseCli, startPulseServer, createViewer } from './pulse-process.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 2000);
const DAYS = Number(args.get('days') ?? 30);
const INTERVAL = Number(args.get('interval') ?? 300);
const RAW_DAYS = Number(args.get('raw-days') ?? 2);
const RUNS = Number(args.get('runs') ?? 10);
/** `--keep yes` leaves the database for a closer look (EXPLAIN), and prints its name. */
const KEEP = args.get('keep') === 'yes' || args.has('reuse');
/** `--reuse <database>` times a kept database again (migrated first) without seeding it. */
const REUSE = args.get('reuse');
const TENANT = 'bench-dash';
const TOKEN = 'dsh_bench-dashboards-share-token';
const NOW = Date.now();

const at = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });
const WIDGETS = [
  {
    id: 'fleet',
    type: 'timeseries',
    layout: at(0, 0, 6, 4),
    options: { metrics: ['temp_c'], stats: ['min', 'avg', 'max'] },
  },
  { id: 'by-site', type: 'timeseries', layout: at(6, 0, 6, 4), options: { metrics: ['temp_c'], group_by: 'site' } },
  {
    id: 'devices',
    type: 'timeseries',
    layout: at(0, 4, 6, 4),
    options: { metrics: ['temp_c', 'battery_pct'], devices: ['dev-1', 'dev-2', 'dev-3'] },
  },
  { id: 'online', type: 'stat', layout: at(6, 4, 2, 2), options: { metric: 'fleet:ONLINE' } },
  {
    id: 'temp',
    type: 'stat',
    layout: at(8, 4, 2, 2),
    options: { metric: 'temp_c', stat: 'max', thresholds: [{ value: 25, color: '#dc2626' }] },
  },
  { id: 'battery', type: 'gauge', layout: at(10, 4, 2, 4), options: { metric: 'battery_pct', unit: '%' } },
  {
    id: 'site-bars',
    type: 'bar',
    layout: at(6, 6, 4, 2),
    options: { metric: 'temp_c', group_by: 'site', stat: 'max' },
  },
  { id: 'tag-bars', type: 'bar', layout: at(0, 8, 4, 4), options: { metric: 'battery_pct', group_by: 'tag' } },
  {
    id: 'table',
    type: 'table',
    layout: at(4, 8, 4, 4),
    options: { columns: ['device_id', 'site_id', 'status', 'metric:temp_c'], limit: 10 },
  },
  { id: 'alerts', type: 'alerts', layout: at(8, 8, 4, 4), options: { status: 'OPEN', limit: 10 } },
  { id: 'map', type: 'map', layout: at(0, 12, 8, 6), options: {} },
  { id: 'note', type: 'text', layout: at(8, 12, 4, 6), options: { markdown: '## Cold chain\nA month of the fleet.' } },
];

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
};

const database = REUSE ?? uniqueName('pulse_bench_dash');
if (!REUSE) await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const nats = await startNatsCluster(1);
const env = {
  ...process.env,
  DATABASE_URL: urlFor(database),
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  NATS_URL: nats.urls,
};
const cli = pulseCli(env);
let server: Awaited<ReturnType<typeof startPulseServer>> | undefined;
const browser = await launchChromium();
try {
  cli('migrate');
  const { seedSeconds, rebuildSeconds } = REUSE
    ? { seedSeconds: 0, rebuildSeconds: 0 }
    : await seedMonth({
        database,
        tenant: TENANT,
        devices: DEVICES,
        days: DAYS,
        interval: INTERVAL,
        rawDays: RAW_DAYS,
        now: NOW,
        cli,
      });
  const dashboardId = await asSuperuser(async (client) => {
    if (REUSE) {
      const { rows } = await client.query<{ id: string }>(`SELECT dashboard_id::text AS id FROM dashboards LIMIT 1`);
      return rows[0]!.id;
    }
    await client.query(
      `UPDATE device_registry SET tags = ARRAY['zone-' || (substring(device_id FROM 5)::int % 8)] WHERE tenant_id = $1`,
      [TENANT],
    );
    await client.query(
      `UPDATE device_state SET state = state || jsonb_build_object('position',
         jsonb_build_object('lat', 45 + (substring(device_id FROM 5)::int % 97) / 10.0,
                            'lon', 2 + (substring(device_id FROM 5)::int % 89) / 10.0))
       WHERE tenant_id = $1`,
      [TENANT],
    );
    const definition = {
      version: 1,
      name: 'Fleet month',
      time: { from: `now-${DAYS}d`, to: 'now' },
      refresh_seconds: 0,
      widgets: WIDGETS,
    };
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO dashboards (tenant_id, name, definition) VALUES ($1, $2, $3) RETURNING dashboard_id::text AS id`,
      [TENANT, definition.name, JSON.stringify(checkDashboard(definition))],
    );
    await client.query(
      `INSERT INTO dashboard_shares (tenant_id, dashboard_id, token_hash, expires_at) VALUES ($1, $2, $3, now() + interval '1 day')`,
      [TENANT, rows[0]!.id, sha256Hex(TOKEN)],
    );
    await client.query(`VACUUM ANALYZE`);
    return rows[0]!.id;
  }, database);
  server = await startPulseServer(['run', 'api'], env);
  // Tokens name the issuer, which the server sets up as it starts.
  const viewer = createViewer(cli, TENANT);
  const { token } = viewer;
  const { base } = server;

  /** The data call as a signed-in page makes it; `widgets` reads those instead of the stored ones. */
  const dataCall = async (body: object) => {
    const started = performance.now();
    const response = await fetch(`${base}/customer/dashboards/${dashboardId}/data`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as {
      widgets: Record<string, { resolution: string | null; error?: string }>;
    };
    if (!response.ok) throw new Error(`data call answered ${response.status}: ${JSON.stringify(answer)}`);
    const failed = Object.entries(answer.widgets).filter(([, widget]) => widget.error);
    if (failed.length > 0) throw new Error(`widgets failed: ${JSON.stringify(failed)}`);
    return { ms: performance.now() - started, answer };
  };

  // The one call that answers every widget.
  const dataMs: number[] = [];
  let resolutions: Record<string, string | null> = {};
  for (let run = 0; run <= RUNS; run += 1) {
    const { ms, answer } = await dataCall({});
    resolutions = Object.fromEntries(Object.entries(answer.widgets).map(([id, widget]) => [id, widget.resolution]));
    if (run > 0) dataMs.push(ms); // the first warms the server
  }
  // Each widget alone (the call with that widget only): where the call's time goes.
  const widgetMs: Record<string, number> = {};
  for (const widget of WIDGETS) {
    const samples: number[] = [];
    for (let run = 0; run < 3; run += 1) samples.push((await dataCall({ widgets: [widget] })).ms);
    widgetMs[widget.id] = percentile(samples, 50);
  }

  /**
   * A page opened in a new tab, from navigation until every widget has drawn, `runs` times after a first
   * that loads the app's files into the cache; in the page's own clock, when its data call started and
   * ended. `signIn`: the tab signs in first (the button, then the issuer's redirects on its session).
   */
  const timePages = async (url: string, signIn = false) => {
    const times = { page: [] as number[], dataStart: [] as number[], data: [] as number[], afterData: [] as number[] };
    for (let run = 0; run <= RUNS; run += 1) {
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(url);
      if (signIn) await page.getByRole('button', { name: 'Sign in' }).click();
      for (;;) {
        // A signing-in tab passes through the issuer's redirects: a page gone meanwhile has not drawn.
        const drawn = await page
          .evaluate(
            `document.querySelectorAll('[data-widget][data-state=drawn]').length === ${WIDGETS.length} &&
             [...document.querySelectorAll('[data-chart]')].every((chart) => chart.dataset.drawn === 'true')`,
          )
          .catch(() => false);
        if (drawn) break;
        if (performance.now() - started > 60_000) throw new Error('the dashboard did not draw within 60 s');
        await page.waitForTimeout(10);
      }
      const timing = (await page.evaluate(`(() => {
        const data = performance.getEntriesByType('resource').find((entry) => entry.name.endsWith('/data'));
        return { drawn: performance.now(), start: data.startTime, end: data.responseEnd };
      })()`)) as { drawn: number; start: number; end: number };
      await page.close();
      if (run === 0) continue;
      times.page.push(performance.now() - started);
      times.dataStart.push(timing.start);
      times.data.push(timing.end - timing.start);
      times.afterData.push(timing.drawn - timing.end);
    }
    return times;
  };
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  // The share link's page: no sign-in.
  const shared = await timePages(`${base}/app/shared/${TOKEN}`);
  // Signed in: once with the password, which leaves the issuer's session; then each new tab signs in on it.
  const first = await context.newPage();
  await first.goto(`${base}/app/dashboards/${dashboardId}`);
  await first.getByRole('button', { name: 'Sign in' }).click();
  await first.getByLabel('Username').fill(viewer.username);
  await first.getByLabel('Password').fill(viewer.password);
  await first.getByRole('button', { name: 'Sign in' }).click();
  await first.getByTestId('whoami').waitFor();
  await first.close();
  const signedIn = await timePages(`${base}/app/dashboards/${dashboardId}`, true);
  await context.close();
  const { page: pageMs, dataStart: dataStartMs, data: pageDataMs, afterData: afterDataMs } = shared;

  const summary = (samples: number[]) => ({
    p50_ms: percentile(samples, 50),
    p95_ms: percentile(samples, 95),
    max_ms: percentile(samples, 100),
    runs: samples.length,
  });
  const described = (samples: number[]) => {
    const { p50_ms, p95_ms, max_ms } = summary(samples);
    return `p50 ${p50_ms} ms, p95 ${p95_ms} ms, max ${max_ms} ms`;
  };
  console.log(
    `${DEVICES} devices × ${DAYS} days, the last ${RAW_DAYS} raw (seeded in ${seedSeconds} s, rollups rebuilt in ${Math.round(rebuildSeconds)} s)`,
  );
  console.log(`resolutions: ${JSON.stringify(resolutions)}`);
  console.log(`data call for ${WIDGETS.length} widgets: ${described(dataMs)}`);
  console.log(`each widget alone (p50 of 3 calls, ms): ${JSON.stringify(widgetMs)}`);
  console.log(`page until every widget drew: ${described(pageMs)}`);
  console.log(
    `  in the page: data call started at ${described(dataStartMs)}; took ${described(pageDataMs)}; drawn after it in ${described(afterDataMs)}`,
  );
  console.log(`signed in, in a new tab (its sign-in redirects included): ${described(signedIn.page)}`);
  console.log(`  its data call took ${described(signedIn.data)}; drawn after it in ${described(signedIn.afterData)}`);
  saveResult('dashboards', {
    devices: DEVICES,
    days: DAYS,
    raw_days: RAW_DAYS,
    ...(REUSE && { reused_database: REUSE }),
    interval_seconds: INTERVAL,
    widgets: WIDGETS.length,
    resolutions,
    data_call: summary(dataMs),
    widget_alone_p50_ms: widgetMs,
    page_drawn: summary(pageMs),
    page_data_call_started: summary(dataStartMs),
    page_data_call: summary(pageDataMs),
    page_drawn_after_data: summary(afterDataMs),
    signed_in_page_drawn: summary(signedIn.page),
    signed_in_data_call: summary(signedIn.data),
    signed_in_drawn_after_data: summary(signedIn.afterData),
    seed_seconds: seedSeconds,
    rollup_rebuild_seconds: Math.round(rebuildSeconds),
  });
} finally {
  await browser.close();
  await server?.stop();
  await nats.close();
  if (KEEP) console.log(`kept database ${database}`);
  else await dropDatabase(database);
}
