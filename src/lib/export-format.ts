// Telemetry rows as an export's text: CSV (RFC 4180, one column per metric) or NDJSON (one JSON object
// per line). Pure: rows in, lines out. Rows arrive as text (the instant in UTC, the metrics as stored JSON);
// the bytes are those JavaScript prints for the parsed values and for the instant as a Date.

export type ExportFormat = 'csv' | 'ndjson';

export interface ExportedRow {
  /** The instant in UTC as PostgreSQL writes a timestamp: `YYYY-MM-DD HH:MM:SS[.ffffff]`. */
  utc: string;
  device_id: string;
  site_id: string | null;
  msg_type: string;
  /** The sequence number in decimal. */
  seq: string;
  /** The metrics object as JSON. */
  metrics: string;
}

const FIXED = ['time', 'device_id', 'site_id', 'msg_type', 'seq'];

/** ISO-8601 with milliseconds, as isoUtc writes a Date (the driver truncates microseconds to a Date's ms). */
export const isoOfUtc = (utc: string) =>
  `${utc.slice(0, 10)}T${utc.slice(11, 19)}.${utc.slice(20, 23).padEnd(3, '0')}+00:00`;

/** A CSV field: quoted when it holds a comma, a quote, a line break or edge spaces; quotes doubled. */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvHeader = (metrics: string[]) => `${[...FIXED, ...metrics].map(csvField).join(',')}\r\n`;

export function csvLine(row: ExportedRow, metrics: string[]): string {
  const values = JSON.parse(row.metrics) as Record<string, unknown>;
  let line = `${isoOfUtc(row.utc)},${csvField(row.device_id)},${csvField(row.site_id)},${csvField(row.msg_type)},${Number(row.seq)}`;
  for (const metric of metrics) line += `,${csvField(values[metric])}`;
  return `${line}\r\n`;
}

/** One NDJSON line; with `metrics`, only those. */
export function ndjsonLine(row: ExportedRow, metrics?: string[]): string {
  const values = JSON.parse(row.metrics) as Record<string, unknown>;
  const picked = metrics ? Object.fromEntries(metrics.filter((m) => m in values).map((m) => [m, values[m]])) : values;
  return `{"time":"${isoOfUtc(row.utc)}","device_id":${JSON.stringify(row.device_id)},"site_id":${JSON.stringify(row.site_id)},"msg_type":${JSON.stringify(row.msg_type)},"seq":${Number(row.seq)},"metrics":${JSON.stringify(picked)}}\n`;
}

/** The text of a whole export, header first, in chunks of about 64 KiB (one write per chunk, not per row). */
export async function* exportLines(
  pages: AsyncIterable<ExportedRow[]>,
  format: ExportFormat,
  columns: string[],
  onlyListed: boolean,
): AsyncGenerator<string> {
  let chunk = format === 'csv' ? csvHeader(columns) : '';
  for await (const page of pages) {
    for (const row of page) {
      chunk += format === 'csv' ? csvLine(row, columns) : ndjsonLine(row, onlyListed ? columns : undefined);
      if (chunk.length >= 65_536) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk) yield chunk;
}
