// Telemetry taken out of Pulse (issue 17): one device's or the whole tenant's rows over a window, read in
// pages of short transactions (no transaction held open while a client downloads, which PGlite's single
// connection could not afford) and in a total order, so an export sees every row exactly once.
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

/** A stored row as an export gives it (the shape the formats take). */
export type ExportRow = ExportedRow;

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

/** Rows from `from` on (skipping the first `skip` of them), in export order. */
export async function exportPage(
  tx: TenantTx,
  filter: ExportFilter,
  from: Date,
  skip: number,
  size: number,
): Promise<ExportRow[]> {
  const [tenant, device, , end, metrics] = args(tx, filter);
  const { rows } = await tx.query<ExportRow & { seq: string | number }>(
    `SELECT time, device_id, site_id, msg_type, seq, metrics FROM telemetry WHERE ${WHERE}
     ORDER BY time, device_id, seq, msg_type, metrics::text LIMIT $6 OFFSET $7`,
    [tenant, device, from, end, metrics, size, skip],
  );
  return rows.map((row) => ({ ...row, seq: Number(row.seq) }));
}

/**
 * Every row of the export, page by page. The next page starts at the last row's instant, past the rows
 * at that instant already given: rows sharing an instant (even exact duplicates) are neither lost nor
 * repeated at a page boundary.
 */
export async function* exportRows(
  inTenant: <T>(fn: (tx: TenantTx) => Promise<T>) => Promise<T>,
  filter: ExportFilter,
  pageSize = 2000,
): AsyncGenerator<ExportRow> {
  let from = filter.start;
  let skip = 0;
  for (;;) {
    const page = await inTenant((tx) => exportPage(tx, filter, from, skip, pageSize));
    yield* page;
    if (page.length < pageSize) return;
    const last = page[page.length - 1]!.time.getTime();
    const atLast = page.filter((row) => row.time.getTime() === last).length;
    if (last === from.getTime()) skip += page.length;
    else {
      from = new Date(last);
      skip = atLast;
    }
  }
}
