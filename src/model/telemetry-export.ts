// Telemetry taken out of Pulse (issue 17): one device's or the whole tenant's rows over a window, read in
// pages of short transactions (no transaction held open while a client downloads, which PGlite's single
// connection could not afford) and in a total order, so an export sees every row exactly once.
// Rows come as text (issue 35): the instant in UTC, the metrics as stored JSON, nothing parsed into dates
// or objects by the driver; and the next page is read while the caller writes the current one.
import type { TenantTx } from '../db/database.js';
import type { ExportedRow } from '../lib/export-format.js';

export interface ExportFilter {
  /** One device, or every device of the tenant. */
  deviceId?: string | undefined;
  /** Only these devices (a selection); every device when undefined. */
  deviceIds?: string[] | undefined;
  start: Date;
  end: Date;
  /** Only these metrics (and rows that carry one of them); all when undefined. */
  metrics?: string[] | undefined;
}

const WHERE = `tenant_id = $1 AND ($2::text IS NULL OR device_id = $2) AND time >= $3 AND time < $4
  AND ($5::text[] IS NULL OR metrics ?| $5) AND ($6::text[] IS NULL OR device_id = ANY ($6))`;
const args = (tx: TenantTx, f: ExportFilter) => [
  tx.tenantId,
  f.deviceId ?? null,
  f.start,
  f.end,
  f.metrics ?? null,
  f.deviceIds ?? null,
];

/** The metric names the window's rows carry, sorted: a CSV's columns. */
export async function exportMetricNames(tx: TenantTx, filter: ExportFilter): Promise<string[]> {
  if (filter.metrics) return [...filter.metrics].sort();
  const { rows } = await tx.query<{ name: string }>(
    `SELECT DISTINCT jsonb_object_keys(metrics) AS name FROM telemetry WHERE ${WHERE} ORDER BY 1`,
    args(tx, filter),
  );
  return rows.map((row) => row.name);
}

/**
 * Rows from the instant `from` (ISO-8601) on, skipping the first `skip` of them, in export order: time (the order of
 * the time indexes), then the other columns — metrics compared as JSON, and only between rows equal in
 * everything else, never turned into text to sort.
 */
async function exportPage(tx: TenantTx, filter: ExportFilter, from: string, skip: number, size: number) {
  const [tenant, device, , end, metrics, devices] = args(tx, filter);
  const { rows } = await tx.query<ExportedRow>(
    `SELECT (time AT TIME ZONE 'UTC')::text AS utc, device_id, site_id, msg_type, seq::text AS seq,
            metrics::text AS metrics
     FROM telemetry t WHERE ${WHERE}
     ORDER BY t.time, t.device_id, t.seq, t.msg_type, t.metrics LIMIT $7 OFFSET $8`,
    [tenant, device, from, end, metrics, devices, size, skip],
  );
  return rows;
}

/**
 * Every row of the export, a page at a time. The next page starts at the last row's instant, past the
 * rows at that instant already given: rows sharing an instant (even exact duplicates) are neither lost
 * nor repeated at a page boundary. It is asked for before this page is handed over, so the database
 * reads it while the caller writes this one.
 */
export async function* exportPages(
  inTenant: <T>(fn: (tx: TenantTx) => Promise<T>) => Promise<T>,
  filter: ExportFilter,
  pageSize = 5000,
): AsyncGenerator<ExportedRow[]> {
  const read = (from: string, skip: number) => inTenant((tx) => exportPage(tx, filter, from, skip, pageSize));
  let from = filter.start.toISOString();
  let skip = 0;
  let next: Promise<ExportedRow[]> | undefined = read(from, skip);
  try {
    while (next) {
      const page: ExportedRow[] = await next;
      next = undefined;
      if (page.length === pageSize) {
        const last = page[page.length - 1]!.utc;
        let atLast = 0;
        while (atLast < page.length && page[page.length - 1 - atLast]!.utc === last) atLast += 1;
        const lastInstant = `${last}Z`;
        if (lastInstant === from) skip += page.length;
        else {
          from = lastInstant;
          skip = atLast;
        }
        next = read(from, skip);
      }
      yield page;
    }
  } finally {
    // A download that stops early leaves the page read ahead to settle unobserved.
    next?.catch(() => undefined);
  }
}
