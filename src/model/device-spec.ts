// What an admin sends to register a device, validated the same way for one device, a JSON array and a
// CSV file. Pure functions; the HTTP routes and the CLI call them.
import { AppError } from '../errors.js';
import { attributeKeyProblem, checkAttributes, checkTags, typedText, type Attributes } from './device-tags.js';

/**
 * Ids end up in MQTT topics (tenant/{t}/device/{d}/…), so topic separators and wildcards are refused, and
 * control characters, which ingest refuses in topics (lib/control-characters.ts).
 */
export const MAX_ID_LENGTH = 128;
export const ID_PATTERN = `^[^/+#\\s\\u0000-\\u001f\\u007f-\\u009f]{1,${MAX_ID_LENGTH}}$`;
const idPattern = new RegExp(ID_PATTERN, 'u');
export const ID_RULE = `1-${MAX_ID_LENGTH} characters, none of '/', '+', '#', whitespace or control characters`;

export const MAX_BULK_DEVICES = 10_000;

export interface DeviceSpec {
  tenant_id: string;
  device_id: string;
  site_id: string;
  fw_version?: string | null;
  /** Absent: a new device gets `{}`, a re-registered one keeps its own; so for tags and attributes. */
  metadata?: Record<string, unknown> | undefined;
  tags?: string[] | undefined;
  attributes?: Attributes | undefined;
}

export interface RowError {
  /** 1-based position of the device in the request (CSV: data rows after the header). */
  row: number;
  device_id?: string;
  error: string;
}

export interface ParsedBulk {
  devices: (DeviceSpec & { row: number })[];
  errors: RowError[];
}

const FIELDS = ['tenant_id', 'device_id', 'site_id', 'fw_version', 'metadata', 'tags', 'attributes'] as const;
/** A CSV's columns: the fields but attributes, which are columns attr.<key> each. */
const COLUMNS = FIELDS.filter((field) => field !== 'attributes');
const ATTRIBUTE_COLUMN = 'attr.';
const REQUIRED = ['tenant_id', 'device_id', 'site_id'] as const;

/** Checks one device object; returns the normalised spec or a message naming what to fix. */
export function checkDeviceSpec(input: unknown): { spec: DeviceSpec } | { error: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { error: 'must be an object with tenant_id, device_id and site_id' };
  }
  const record = input as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) return { error: `unknown field ${unknown.join(', ')} (allowed: ${FIELDS.join(', ')})` };
  for (const field of REQUIRED) {
    const value = record[field];
    if (typeof value !== 'string' || value.trim() === '') return { error: `${field} is required` };
    if (field !== 'site_id' && !idPattern.test(value)) return { error: `${field} must be ${ID_RULE}` };
  }
  const fw = record.fw_version;
  if (fw !== undefined && fw !== null && typeof fw !== 'string') return { error: 'fw_version must be a string' };
  const metadata = record.metadata ?? undefined;
  if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))) {
    return { error: 'metadata must be a JSON object' };
  }
  const labels = checkLabels(record);
  if ('error' in labels) return labels;
  return {
    spec: {
      tenant_id: record.tenant_id as string,
      device_id: record.device_id as string,
      site_id: (record.site_id as string).trim(),
      fw_version: (fw as string | null | undefined) ?? null,
      metadata: metadata as Record<string, unknown> | undefined,
      tags: labels.labels.tags,
      attributes: labels.labels.attributes,
    },
  };
}

/** Tags to set, add or remove and attributes, as a request gives them; absent ones stay absent. */
export interface Labels {
  tags?: string[] | undefined;
  add_tags?: string[] | undefined;
  remove_tags?: string[] | undefined;
  attributes?: Attributes | undefined;
}

/** The labels among a request's fields, checked and normalised (tags sorted, without repeats). */
export function checkLabels(input: Record<string, unknown>): { labels: Labels } | { error: string } {
  const labels: Labels = {};
  for (const field of ['tags', 'add_tags', 'remove_tags'] as const) {
    if (input[field] === undefined) continue;
    const checked = checkTags(input[field], field);
    if ('error' in checked) return checked;
    labels[field] = checked.tags;
  }
  if (input.attributes !== undefined) {
    const checked = checkAttributes(input.attributes);
    if ('error' in checked) return checked;
    labels.attributes = checked.attributes;
  }
  return { labels };
}

/** checkLabels for a route: the labels, or a 400 saying what to fix. */
export function requireLabels(input: Record<string, unknown>): Labels {
  const checked = checkLabels(input);
  if ('error' in checked) throw new AppError('INVALID_REQUEST', checked.error);
  return checked.labels;
}

/** A CSV row that could not even be read as a device record. */
export class RowProblem {
  constructor(readonly message: string) {}
}

/** Validates a bulk request's records; duplicates of an earlier (tenant, device) are per-row errors. */
export function checkBulk(records: unknown[]): ParsedBulk {
  const devices: ParsedBulk['devices'] = [];
  const errors: RowError[] = [];
  const seen = new Set<string>();
  records.forEach((record, index) => {
    const row = index + 1;
    const checked = record instanceof RowProblem ? { error: record.message } : checkDeviceSpec(record);
    const deviceId = (record as { device_id?: unknown } | null)?.device_id;
    const idForError = typeof deviceId === 'string' ? { device_id: deviceId } : {};
    if ('error' in checked) {
      errors.push({ row, ...idForError, error: checked.error });
      return;
    }
    const key = `${checked.spec.tenant_id}\u0000${checked.spec.device_id}`;
    if (seen.has(key)) {
      errors.push({ row, ...idForError, error: 'duplicate of an earlier row for the same tenant_id and device_id' });
      return;
    }
    seen.add(key);
    devices.push({ ...checked.spec, row });
  });
  return { devices, errors };
}

/**
 * Parses CSV (RFC 4180: quoted fields, "" escapes, CRLF or LF) with a header naming the columns
 * tenant_id, device_id, site_id and optionally fw_version, metadata (a JSON object), tags (separated by ';')
 * and attr.<key> (an attribute: true/false, a number, a date YYYY-MM-DD, else text; empty: none). Returns
 * one record per data row for checkBulk, or throws a message about the file as a whole.
 */
export function parseDeviceCsv(text: string, defaults: BulkDefaults = {}): unknown[] {
  const rows = parseCsv(text).filter((cells) => cells.some((cell) => cell.trim() !== ''));
  const header = rows.shift()?.map((name) => name.trim());
  if (!header) throw new Error('CSV is empty; the first line must name the columns tenant_id,device_id,site_id');
  const unknown = header.filter(
    (name) => !(COLUMNS as readonly string[]).includes(name) && !name.startsWith(ATTRIBUTE_COLUMN),
  );
  if (unknown.length > 0)
    throw new Error(`CSV has unknown column ${unknown.join(', ')} (allowed: ${COLUMNS.join(', ')}, attr.<key>)`);
  for (const name of header.filter((column) => column.startsWith(ATTRIBUTE_COLUMN))) {
    const problem = attributeKeyProblem(name.slice(ATTRIBUTE_COLUMN.length));
    if (problem) throw new Error(`CSV column ${name}: ${problem}`);
  }
  const missing = REQUIRED.filter(
    (name) => !header.includes(name) && defaults[name as keyof BulkDefaults] === undefined,
  );
  if (missing.length > 0) throw new Error(`CSV header is missing column ${missing.join(', ')}`);

  return rows.map((cells) => {
    const record: Record<string, unknown> = { ...defaults };
    header.forEach((name, i) => {
      const cell = cells[i] ?? '';
      if (name === 'metadata') {
        if (cell.trim() === '') return;
        try {
          record.metadata = JSON.parse(cell);
        } catch {
          record.metadata = cell; // checkDeviceSpec reports it as "must be a JSON object"
        }
      } else if (name === 'fw_version') {
        if (cell.trim() !== '') record.fw_version = cell.trim();
      } else if (name === 'tags') {
        const tags = cell.split(';').map((tag) => tag.trim());
        if (tags.some(Boolean)) record.tags = tags.filter(Boolean);
      } else if (name.startsWith(ATTRIBUTE_COLUMN)) {
        if (cell.trim() === '') return;
        const attributes = (record.attributes ?? {}) as Record<string, unknown>;
        record.attributes = { ...attributes, [name.slice(ATTRIBUTE_COLUMN.length)]: typedText(cell) };
      } else {
        record[name] = cell.trim();
      }
    });
    const extra = cells.slice(header.length).filter((cell) => cell.trim() !== '');
    if (extra.length > 0) {
      return new RowProblem(`row has ${cells.length} cells but the header names ${header.length} columns`);
    }
    return record;
  });
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        field += char;
      }
    } else if (char === '"' && field === '') {
      quoted = true;
    } else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += char;
    }
  }
  if (quoted) throw new Error('CSV has an unterminated quoted field');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** A bulk body is a JSON array, `{"devices": [...]}`, or CSV text. */
/** Values rows may leave out (a customer's CSV names no tenant: it is the caller's). */
export interface BulkDefaults {
  tenant_id?: string;
}

export function bulkRecords(body: unknown, defaults: BulkDefaults = {}): unknown[] {
  const records = bulkBody(body, defaults);
  if (records.length === 0) throw new AppError('INVALID_REQUEST', 'Bulk request has no devices');
  if (records.length > MAX_BULK_DEVICES) {
    throw new AppError(
      'INVALID_REQUEST',
      `Bulk request has ${records.length} devices; the limit is ${MAX_BULK_DEVICES} per request`,
    );
  }
  return records;
}

function bulkBody(body: unknown, defaults: BulkDefaults): unknown[] {
  if (typeof body === 'string') {
    try {
      return parseDeviceCsv(body, defaults);
    } catch (error) {
      throw new AppError('INVALID_REQUEST', (error as Error).message);
    }
  }
  const records = Array.isArray(body)
    ? body
    : typeof body === 'object' && body !== null && Array.isArray((body as { devices?: unknown }).devices)
      ? (body as { devices: unknown[] }).devices
      : undefined;
  if (!records) {
    throw new AppError(
      'INVALID_REQUEST',
      'Send a JSON array of devices, {"devices": [...]}, or text/csv with a tenant_id,device_id,site_id header',
    );
  }
  return records.map((record) =>
    record && typeof record === 'object' && !Array.isArray(record) ? { ...defaults, ...record } : record,
  );
}
