// Telemetry taken out of Pulse (issue 17): one device's or the whole tenant's rows over a window, read in
// pages of short transactions (no transaction held open while a client downloads, which PGlite's single
// connection could not afford) and in a total order, so an export sees every row exactly once.
// Rows come as the text an export writes (issue 35): the instant already in ISO-8601, the metrics as
// stored JSON, nothing parsed into dates or objects by the driver; and the next page is read while the
// caller writes the current one.
import type { TenantTx } from '../db/database.js';
import type { ExportedRow } from '../lib/export-format.js';

export interface ExportFilter {
  /** One device, or every device of the tenant. */
  deviceId?: string | undefined;
  start: Date;
  end: Date;
  /** Only these metrics (and rows that carry one of them); all when undefined. */
  metrics?: string[] | undefined;
}

/** A stored row as an export reads it, with its instant in microseconds since the epoch (a page's cursor). */
type PageRow = ExportedRow & { micros: string };

const WHERE = `tenant_id = $1 AND ($2::text IS NULL OR device_id = $2) AND time >= $3 AND time < $4
  AND ($5::text[] IS NULL OR metrics ?| $5)`;
const args = (tx: TenantTx, f: ExportFilter) => [tx.tenantId, f.deviceId ?? null, f.start, f.end, f.metrics ?? null];

/** The metric names the window's rows carry, sorted: a CSV's columns. */
export async function exportMetricNames(tx: TenantTx, filter: ExportFilter): Promise<string[]> {
  if (filter.metrics) return [...filter.metrics].sort();
  const { rows } = await tx.query<{ name: string }>(
    `SELECT DISTINCT jsonb_object_keys(metrics) AS name FROM telemetry WHERE ${WHERE} ORDER BY 1`,
    args(tx, filter),
  );
  return rows.map((row) => row.name);
}

/** An instant in microseconds since the epoch as an ISO-8601 text PostgreSQL reads back exactly. */
function microsIso(micros: string): string {
  const value = BigInt(micros);
  const subMillis = ((value % 1000n) + 1000n) % 1000n;
  const millis = (value - subMillis) / 1000n;
  return new Date(Number(millis)).toISOString().replace('Z', `${String(subMillis).padStart(3, '0')}Z`);
}

/**
 * Rows from the instant `from` on, skipping the first `skip` of them, in export order: time (the order of
 * the time indexes), then the other columns — metrics compared as JSON, and only between rows equal in
 * everything else, never turned into text to sort.
 */
async function exportPage(tx: TenantTx, filter: ExportFilter, from: string, skip: number, size: number) {
  const [tenant, device, , end, metrics] = args(tx, filter);
  const { rows } = await tx.query<PageRow>(
    `SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') AS time, device_id, site_id,
            msg_type, seq::text AS seq, metrics::text AS metrics,
            ((extract(epoch FROM time) * 1000000)::bigint)::text AS micros
     FROM telemetry t WHERE ${WHERE}
     ORDER BY t.time, t.device_id, t.seq, t.msg_type, t.metrics LIMIT $6 OFFSET $7`,
    [tenant, device, from, end, metrics, size, skip],
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
  const read = (from: string, skip: number) =>
    inTenant((tx) => exportPage(tx, filter, microsIso(from), skip, pageSize));
  let from = String(filter.start.getTime() * 1000);
  let skip = 0;
  let next: Promise<PageRow[]> | undefined = read(from, skip);
  try {
    while (next) {
      const page: PageRow[] = await next;
      next = undefined;
      if (page.length === pageSize) {
        const last = page[page.length - 1]!.micros;
        let atLast = 0;
        while (atLast < page.length && page[page.length - 1 - atLast]!.micros === last) atLast += 1;
        if (last === from) skip += page.length;
        else {
          from = last;
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
