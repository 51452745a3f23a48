// `pulse import original --from <postgres-url>`: brings an OpsConductor-Pulse deployment over (issue 33,
// ADR 032). For each tenant it reads the original's rows, decides what Pulse would store (original-rows.ts)
// and what is there already, and writes the new ones in one transaction; then, when asked, the telemetry
// since a date in bounded batches, and the rollups over it. A dry run stops after deciding.
//
// Idempotent and resumable: every row keeps the original's key and is written only when absent; alerts
// and telemetry, which have none, are remembered (migration 039). A tenant whose transaction failed is
// done again by the next run; telemetry goes on after the last batch committed.
import pg from 'pg';
import type { Database, Narrowed, ServiceTx } from '../db/database.js';
import { narrow } from '../db/database.js';
import { AppError } from '../errors.js';
import type { SecretBox } from '../lib/secrets.js';
import type { DestinationRules } from '../model/integration-input.js';
import { buildEmail, buildMqtt, buildSnmp, buildWebhook, type Built } from '../model/integration-settings.js';
import * as target from '../model/original-import.js';
import {
  countTelemetry,
  sourceRows,
  sourceShape,
  sourceTenants,
  takeOperatorRole,
  telemetryBatch,
  type SourceShape,
  type TelemetryWindow,
} from '../model/original-source.js';
import type { Metrics } from '../contracts/messages.js';
import { insertTelemetry } from '../model/telemetry.js';
import { rebuildRollups } from '../model/rollup-rebuild.js';
import {
  KINDS,
  mapAlert,
  mapDevice,
  mapDeviceState,
  mapIntegration,
  mapRoute,
  mapRule,
  mapTenant,
  type IntegrationSource,
  type Kind,
  type Mapped,
  type SourceRow,
} from './original-rows.js';

export interface ImportOptions {
  /** postgres://… of the original's database. */
  from: string;
  dryRun: boolean;
  /** Also the telemetry from this instant (a date is its UTC midnight). */
  telemetrySince?: string | undefined;
  /** Most telemetry rows read and written per transaction. */
  batchSize: number;
  /** Where integrations may point (SSRF_ALLOWLIST, MODE): checked as Pulse checks a new integration. */
  destinations: DestinationRules;
  secrets: SecretBox;
  onProgress?: (progress: TelemetryProgress) => void;
  /** The rollups are rebuilt from this day on (it starts now). */
  onRollups?: (day: string) => void;
  now?: Date;
}

export type Action = 'import' | 'present' | 'refused';

export interface Outcome {
  kind: Kind;
  key: string;
  action: Action;
  /** Why refused; or something to know about a row imported. */
  reason?: string;
}

export interface TenantReport {
  tenant_id: string;
  outcomes: Outcome[];
  /** `first`: the oldest row written, where the rollups start again. */
  telemetry?: { rows: number; refusedRows: number; refused?: string; first?: Date };
}

export interface ImportReport {
  source: string;
  level: string;
  dryRun: boolean;
  tenants: TenantReport[];
  rollups?: { since: string; days: number; messages: number };
}

export interface TelemetryProgress {
  tenant_id: string;
  done: number;
  total: number;
}

/** The original's database without its credentials: host:port/database. */
export function sourceName(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('INVALID_REQUEST', '--from must be a PostgreSQL URL such as postgres://iot@db:5432/iotcloud');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) {
    throw new AppError('INVALID_REQUEST', '--from must be a PostgreSQL URL such as postgres://iot@db:5432/iotcloud');
  }
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

const REQUIRED_TABLES = ['device_registry', 'device_state', 'fleet_alert', 'alert_rules'];

/** Why this database is not an original deployment the importer reads; undefined when it is. */
export function sourceProblem(shape: SourceShape): string | undefined {
  const has = (table: string, column?: string) =>
    shape.tables.has(table) && (column === undefined || shape.tables.get(table)!.has(column));
  if (has('device_registry', 'tags') && has('device_registry', 'attributes')) {
    return 'it is a Pulse database, not an OpsConductor-Pulse one';
  }
  const missing = REQUIRED_TABLES.filter((table) => !has(table));
  if (missing.length > 0 || !has('device_registry', 'provision_token_hash')) {
    return `it is not an OpsConductor-Pulse database: ${missing.length > 0 ? `no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}` : 'device_registry has no provision_token_hash'}`;
  }
  if (!has('integrations') && has('notification_channels')) {
    return 'its integrations moved to notification_channels (the original at migration 071 or later), which this importer does not read; it reads migration levels 000 to 070';
  }
  return undefined;
}

/** The latest migration of the original these tables show (its numbering at 305eab4 and after). */
export function sourceLevel(shape: SourceShape): string {
  const has = (table: string, column: string) => shape.tables.get(table)?.has(column) ?? false;
  const level = has('device_registry', 'decommissioned_at')
    ? '058'
    : has('fleet_alert', 'acknowledged_at')
      ? '057'
      : has('integration_routes', 'severities')
        ? '033'
        : has('alert_rules', 'metric_name')
          ? '025'
          : shape.tables.has('tenants')
            ? '018'
            : '000';
  return `migration ${level} or later${shape.timescale ? ', TimescaleDB' : ''}`;
}

/**
 * What to read of a tenant's telemetry given what earlier runs imported: from `since`, or after the last
 * row imported. An earlier start than before is refused: its rows would have to be read around those
 * already there, and an interruption could not tell which were.
 */
export function telemetryWindow(
  since: Date,
  sinceText: string,
  previous: { since: Date; through: Date; throughText: string } | undefined,
): TelemetryWindow | { refused: string } {
  if (!previous) return { after: sinceText, inclusive: true, before: null };
  if (since.getTime() < previous.since.getTime()) {
    return {
      refused: `telemetry from ${previous.since.toISOString()} on was imported before: --telemetry-since may not be earlier`,
    };
  }
  // Past the last row imported (to the microsecond) only when later by a whole millisecond at least.
  return since.getTime() > previous.through.getTime()
    ? { after: sinceText, inclusive: true, before: null }
    : { after: previous.throughText, inclusive: false, before: null };
}

/** --telemetry-since as an instant: a date is its UTC midnight. */
export function parseSince(value: string, now: Date): Date {
  const instant = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(instant.getTime())) {
    throw new AppError('INVALID_REQUEST', `--telemetry-since must be a date such as 2026-11-01 (got "${value}")`);
  }
  if (instant.getTime() > now.getTime())
    throw new AppError('INVALID_REQUEST', `--telemetry-since ${value} is in the future`);
  return instant;
}

async function openSource(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'pulse import original' });
  try {
    await client.connect();
  } catch (error) {
    throw new AppError('INVALID_REQUEST', `cannot connect to ${sourceName(url)}: ${(error as Error).message}`);
  }
  // The importer only reads the original.
  await client.query('SET default_transaction_read_only = on');
  return client;
}

export async function importOriginal(db: Database, options: ImportOptions): Promise<ImportReport> {
  const source = sourceName(options.from);
  const now = options.now ?? new Date();
  const since = options.telemetrySince === undefined ? undefined : parseSince(options.telemetrySince, now);
  const client = await openSource(options.from);
  try {
    const shape = await sourceShape(client);
    const problem = sourceProblem(shape);
    if (problem) throw new AppError('INVALID_REQUEST', `${source} cannot be imported: ${problem}`);
    if (!shape.seesEveryRow && !(await takeOperatorRole(client))) {
      throw new AppError(
        'INVALID_REQUEST',
        `${source}: connect as the original's owner (its services' user, e.g. iot) or a role with BYPASSRLS; row-level security would hide rows from this one`,
      );
    }
    if (since && !shape.tables.has('telemetry')) {
      throw new AppError(
        'INVALID_REQUEST',
        `${source} has no telemetry table (before its migration 021 telemetry was in InfluxDB): leave out --telemetry-since`,
      );
    }
    const report: ImportReport = { source, level: sourceLevel(shape), dryRun: options.dryRun, tenants: [] };
    let firstRow: Date | undefined;
    for (const tenantSource of await sourceTenants(client, shape.tables.has('tenants'))) {
      const tenant = await importTenant(db, client, source, tenantSource, shape, options);
      report.tenants.push(tenant.report);
      if (since && tenant.devices.length + tenant.refusedDevices.length > 0) {
        tenant.report.telemetry = await importTelemetry(db, client, source, tenant, since, options);
        const { first } = tenant.report.telemetry;
        if (first && (!firstRow || first < firstRow)) firstRow = first;
      }
    }
    if (firstRow && !options.dryRun) {
      // From the oldest day written; an interrupted rebuild goes on with `pulse rollup rebuild --since` it.
      const day = firstRow.toISOString().slice(0, 10);
      options.onRollups?.(day);
      const rebuilt = await rebuildRollups(db, day, { restart: true, now });
      report.rollups = { since: day, days: rebuilt.days, messages: rebuilt.messages };
    }
    return report;
  } finally {
    await client.end();
  }
}

interface TenantImport {
  report: TenantReport;
  /** Devices of the original now in Pulse, and those refused. */
  devices: string[];
  refusedDevices: string[];
}

type Planned<T> = { key: string; mapped?: Mapped<T> | undefined };

async function importTenant(
  db: Database,
  client: pg.Client,
  source: string,
  tenantSource: SourceRow,
  shape: SourceShape,
  options: ImportOptions,
): Promise<TenantImport> {
  const tenantId = String(tenantSource.tenant_id);
  const outcomes: Outcome[] = [];
  const tenantMapped = mapTenant(tenantSource);
  if ('refused' in tenantMapped) {
    outcomes.push({ kind: 'tenant', key: tenantId, action: 'refused', reason: tenantMapped.refused });
    return { report: { tenant_id: tenantId, outcomes }, devices: [], refusedDevices: [] };
  }
  const present = await db.withService((tx) => target.presentKeys(narrow(tx, tenantId), source));
  const read = (table: Parameters<typeof sourceRows>[1]) =>
    table === 'integrations' || table === 'integration_routes'
      ? shape.tables.has(table)
        ? sourceRows(client, table, tenantId)
        : Promise.resolve([])
      : sourceRows(client, table, tenantId);

  /**
   * Sorts rows into outcomes (what Pulse has already comes first: it is never looked at again); returns
   * those to write. `mapped` is left out for rows known to be present.
   */
  const decide = <T>(kind: Kind, planned: Planned<T>[]): T[] => {
    const toWrite: T[] = [];
    for (const { key, mapped } of planned) {
      if (!mapped || present[kind].has(key)) outcomes.push({ kind, key, action: 'present' });
      else if ('refused' in mapped) outcomes.push({ kind, key, action: 'refused', reason: mapped.refused });
      else {
        outcomes.push({ kind, key, action: 'import', ...(mapped.note && { reason: mapped.note }) });
        toWrite.push(mapped.row);
      }
    }
    return toWrite;
  };

  const tenantRows = decide('tenant', [{ key: tenantId, mapped: tenantMapped }]);
  const deviceSources = await read('device_registry');
  const devicesPlanned = deviceSources.map((row) => ({ key: String(row.device_id), mapped: mapDevice(row) }));
  const devices = decide('device', devicesPlanned);
  const inPulse = new Set([...present.device, ...devices.map((device) => device.device_id)]);
  const states = decide(
    'device state',
    (await read('device_state')).map((row) => ({ key: String(row.device_id), mapped: mapDeviceState(row, inPulse) })),
  );
  const rules = decide(
    'rule',
    (await read('alert_rules')).map((row) => {
      const mapped = mapRule(row);
      return { key: 'row' in mapped ? mapped.row.rule_id : String(row.rule_id ?? row.id), mapped };
    }),
  );
  const integrations = decide(
    'integration',
    await Promise.all(
      (await read('integrations')).map(async (row) => {
        const key = String(row.integration_id);
        // Built only when new: building checks the destination (DNS) and seals the secrets.
        return {
          key,
          mapped: present.integration.has(key) ? undefined : await buildIntegration(mapIntegration(row), options),
        };
      }),
    ),
  );
  const routeTargets = new Set([...present.integration, ...integrations.map((i) => i.integration_id)]);
  const routes = decide(
    'route',
    (await read('integration_routes')).map((row) => ({
      key: String(row.route_id),
      mapped: mapRoute(row, routeTargets),
    })),
  );
  const alerts = decide(
    'alert',
    (await read('fleet_alert')).map((row) => {
      const mapped = mapAlert(row, inPulse);
      const openInPulse =
        'row' in mapped && !present.alert.has(String(row.id)) && present.openFingerprints.has(mapped.row.fingerprint);
      return {
        key: String(row.id),
        mapped: openInPulse ? { refused: `Pulse has an open alert ${mapped.row.fingerprint} already` } : mapped,
      };
    }),
  );

  const writes = tenantRows.length + devices.length + states.length + rules.length;
  if (!options.dryRun && writes + integrations.length + routes.length + alerts.length > 0) {
    await db.withService(async (serviceTx) => {
      const tx: Narrowed<ServiceTx> = narrow(serviceTx, tenantId);
      for (const tenant of tenantRows) await target.insertTenant(tx, tenant);
      await target.insertDevices(tx, devices);
      await target.insertDeviceStates(tx, states);
      await target.insertRules(tx, rules);
      for (const integration of integrations) await target.insertIntegration(tx, integration);
      await target.insertRoutes(tx, routes);
      await target.insertAlerts(tx, source, alerts);
    });
  }
  return {
    report: { tenant_id: tenantId, outcomes },
    devices: deviceSources.map((row) => String(row.device_id)).filter((id) => inPulse.has(id)),
    refusedDevices: devicesPlanned.filter(({ mapped }) => 'refused' in mapped).map(({ key }) => key),
  };
}

/** The integration checked and sealed as Pulse does for a new one; a check that fails refuses it. */
async function buildIntegration(
  mapped: Mapped<IntegrationSource>,
  options: ImportOptions,
): Promise<Mapped<IntegrationSource & { columns: Built['columns'] }>> {
  if ('refused' in mapped) return mapped;
  const { integration } = mapped.row;
  const { destinations, secrets } = options;
  try {
    let built: Built;
    switch (integration.type) {
      case 'webhook':
        built = await buildWebhook(integration.settings, destinations, secrets, integration.signingSecret);
        break;
      case 'snmp':
        built = await buildSnmp(integration.settings, destinations, secrets);
        break;
      case 'email':
        built = await buildEmail(integration.settings, destinations, secrets);
        break;
      case 'mqtt':
        built = await buildMqtt(integration.settings, mapped.row.tenant_id, destinations, secrets);
        break;
    }
    return { row: { ...mapped.row, columns: built.columns } };
  } catch (error) {
    if (error instanceof AppError) return { refused: error.message };
    throw error;
  }
}

async function importTelemetry(
  db: Database,
  client: pg.Client,
  source: string,
  tenant: TenantImport,
  since: Date,
  options: ImportOptions,
): Promise<NonNullable<TenantReport['telemetry']>> {
  const tenantId = tenant.report.tenant_id;
  const previous = await db.withService((tx) => target.importedTelemetry(narrow(tx, tenantId), source));
  const window = telemetryWindow(since, since.toISOString(), previous);
  if ('refused' in window) return { rows: 0, refusedRows: 0, refused: window.refused };
  const total = await countTelemetry(client, tenantId, tenant.devices, window);
  const refusedRows = await countTelemetry(client, tenantId, tenant.refusedDevices, window);
  if (options.dryRun || total === 0) return { rows: total, refusedRows };
  let done = 0;
  let first: Date | undefined;
  let next = window;
  for (;;) {
    const batch = await telemetryBatch(client, tenantId, tenant.devices, next, options.batchSize);
    if (batch.length === 0) break;
    const last = batch[batch.length - 1]!;
    await db.withService(async (tx) => {
      await target.ensureTelemetryPartitions(tx, batch[0]!.time, last.time);
      await insertTelemetry(
        tx,
        db.engine,
        batch.map((row) => ({
          message: {
            time: row.time,
            tenant_id: tenantId,
            device_id: row.device_id,
            site_id: row.site_id,
            msg_type: row.msg_type,
            seq: Number(row.seq),
            metrics: row.metrics as Metrics,
          },
          metricsJson: JSON.stringify(row.metrics ?? {}),
        })),
      );
      await target.recordTelemetry(
        narrow(tx, tenantId),
        source,
        { since: window.after, through: last.at },
        batch.length,
      );
    });
    done += batch.length;
    first ??= batch[0]!.time;
    options.onProgress?.({ tenant_id: tenantId, done, total });
    next = { after: last.at, inclusive: false, before: null };
  }
  return { rows: done, refusedRows, ...(first && { first }) };
}

/** "[#####-----]  1,200/5,000 rows  tenant-a" */
export function progressLine({ tenant_id, done, total }: TelemetryProgress, width = 30): string {
  const filled = Math.min(width, Math.round((done / Math.max(total, 1)) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')} rows  ${tenant_id}`;
}

/** The report as lines: a table of counts per tenant and kind, then every refused row with its reason. */
export function reportLines(report: ImportReport): string[] {
  const verb = report.dryRun ? 'would import' : 'imported';
  const lines = [`${report.dryRun ? 'dry run: ' : ''}${report.source} (${report.level})`];
  const notes: string[] = [];
  let changed = 0;
  for (const tenant of report.tenants) {
    const counts = KINDS.map((kind) => {
      const of = (action: Action) => tenant.outcomes.filter((o) => o.kind === kind && o.action === action).length;
      changed += of('import');
      return { kind, new: of('import'), present: of('present'), refused: of('refused') };
    }).filter((count) => count.new + count.present + count.refused > 0);
    lines.push(
      `tenant ${tenant.tenant_id}: ${verb} ${counts.map((c) => `${c.new} ${plural(c.kind, c.new)}`).join(', ')}` +
        `; already in Pulse ${counts.reduce((n, c) => n + c.present, 0)}; refused ${counts.reduce((n, c) => n + c.refused, 0)}`,
    );
    if (tenant.telemetry) {
      changed += tenant.telemetry.rows;
      lines.push(
        `  telemetry: ${tenant.telemetry.refused ?? `${verb} ${tenant.telemetry.rows.toLocaleString('en')} rows`}` +
          (tenant.telemetry.refusedRows > 0
            ? `; refused ${tenant.telemetry.refusedRows.toLocaleString('en')} rows of devices not imported`
            : ''),
      );
    }
    for (const outcome of tenant.outcomes) {
      if (outcome.action === 'refused') lines.push(`  refused ${outcome.kind} ${outcome.key}: ${outcome.reason}`);
      else if (outcome.action === 'import' && outcome.reason)
        notes.push(`  note: ${tenant.tenant_id} ${outcome.kind} ${outcome.key}: ${outcome.reason}`);
    }
  }
  lines.push(...notes);
  if (report.rollups) {
    const { since, days, messages } = report.rollups;
    lines.push(`rollups rebuilt from ${since}: ${days} day(s), ${messages.toLocaleString('en')} messages`);
  }
  if (!report.dryRun && changed === 0) lines.push('nothing to import: Pulse already has everything this import brings');
  return lines;
}

const plural = (kind: Kind, n: number) => (n === 1 ? kind : kind === 'device state' ? 'device states' : `${kind}s`);
