// Telemetry rows as an export's text: CSV (RFC 4180, one column per metric) or NDJSON (one JSON object
// per line). Pure: rows in, lines out.
import { isoUtc } from './time.js';

export type ExportFormat = 'csv' | 'ndjson';

export interface ExportedRow {
  time: Date;
  device_id: string;
  site_id: string | null;
  msg_type: string;
  seq: number;
  metrics: Record<string, unknown>;
}

const FIXED = ['time', 'device_id', 'site_id', 'msg_type', 'seq'];

/** A CSV field: quoted when it holds a comma, a quote, a line break or edge spaces; quotes doubled. */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvHeader = (metrics: string[]) => `${[...FIXED, ...metrics].map(csvField).join(',')}\r\n`;

export function csvLine(row: ExportedRow, metrics: string[]): string {
  const fields = [
    isoUtc(row.time),
    row.device_id,
    row.site_id,
    row.msg_type,
    row.seq,
    ...metrics.map((m) => row.metrics[m]),
  ];
  return `${fields.map(csvField).join(',')}\r\n`;
}

/** One NDJSON line; with `metrics`, only those. */
export function ndjsonLine(row: ExportedRow, metrics?: string[]): string {
  const picked = metrics
    ? Object.fromEntries(metrics.filter((m) => m in row.metrics).map((m) => [m, row.metrics[m]]))
    : row.metrics;
  return `${JSON.stringify({ ...row, time: isoUtc(row.time), metrics: picked })}\n`;
}

/** The text of a whole export, header first, in chunks of about 64 KiB (one write per chunk, not per row). */
export async function* exportLines(
  rows: AsyncIterable<ExportedRow>,
  format: ExportFormat,
  columns: string[],
  onlyListed: boolean,
): AsyncGenerator<string> {
  let chunk = format === 'csv' ? csvHeader(columns) : '';
  for await (const row of rows) {
    chunk += format === 'csv' ? csvLine(row, columns) : ndjsonLine(row, onlyListed ? columns : undefined);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
