// `pulse export`: a tenant's telemetry over a window into a file, as the API's export streams it (same
// pages, same order, same CSV or NDJSON), for operators with access to the database.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Database } from '../db/database.js';
import { exportLines, type ExportedRow, type ExportFormat } from '../lib/export-format.js';
import { exportMetricNames, exportPages, type ExportFilter } from '../model/telemetry-export.js';

/** Writes the export to `path`; returns how many rows it wrote. */
export async function exportToFile(
  db: Database,
  tenantId: string,
  filter: ExportFilter,
  format: ExportFormat,
  path: string,
): Promise<number> {
  const columns = await db.withTenant(tenantId, (tx) => exportMetricNames(tx, filter));
  let rows = 0;
  async function* counted(source: AsyncIterable<ExportedRow[]>) {
    for await (const page of source) {
      rows += page.length;
      yield page;
    }
  }
  const source = counted(exportPages((fn) => db.withTenant(tenantId, fn), filter));
  await pipeline(
    Readable.from(exportLines(source, format, columns, filter.metrics !== undefined)),
    createWriteStream(path),
  );
  return rows;
}
