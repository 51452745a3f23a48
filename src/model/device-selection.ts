// A selection of a tenant's devices, as fleet jobs, configuration changes and the devices list name it
// (issue 31): every device, by site, id prefix or list, by tags, typed attributes and health status; criteria
// given together must all match. A job selects ACTIVE devices only (a revoked one can receive nothing); the
// list shows every device. Here the selector's schema and SQL; selector-input.ts checks one (pure).
import { Type, type Static } from '@sinclair/typebox';
import { inSavepoint, narrow, type ServiceTx, type TenantScope, type TenantTx } from '../db/database.js';
import { AppError } from '../errors.js';
import { DEVICE_COLUMNS, DEVICE_FROM, DEVICE_STATUS, escapeLike, type Device } from './devices.js';
import { attributeType, TAGS_DESCRIPTION, type AttributeType, type AttributeValue } from './device-tags.js';
import type { DEVICE_STATUSES } from './fleet.js';

export const ATTRIBUTE_OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'exists', 'one_of'] as const;
export type AttributeOp = (typeof ATTRIBUTE_OPS)[number];

export interface AttributeCondition {
  key: string;
  op: AttributeOp;
  /** exists: none; one_of: a list of values of one type; else one value, whose type says how to compare. */
  value?: AttributeValue | AttributeValue[] | undefined;
}

export interface DeviceSelector {
  all?: boolean | undefined;
  site_ids?: string[] | undefined;
  device_prefix?: string | undefined;
  device_ids?: string[] | undefined;
  tags_any?: string[] | undefined;
  tags_all?: string[] | undefined;
  attributes?: AttributeCondition[] | undefined;
  status?: (typeof DEVICE_STATUSES)[number][] | undefined;
}

/** How much one selector may name. */
export const MAX_SITES = 100;
export const MAX_DEVICE_IDS = 10_000;
export const MAX_CONDITIONS = 20;

const OPS_TEXT = ATTRIBUTE_OPS.join(', ');
const CONDITION_DESCRIPTION =
  `${OPS_TEXT}. The value's type says how to compare: text, a number, true/false, or a date "YYYY-MM-DD" ` +
  '(lt, lte, gt, gte compare numbers and dates); one_of takes a list of values, exists none. ne and the ' +
  'comparisons match devices that have the attribute only.';

/**
 * A selector as routes take it. The schema says its shape; selector-input.ts checks the rest (patterns,
 * limits, operators, types) with messages that say what to fix.
 */
export const DeviceSelectorSchema = Type.Object(
  {
    all: Type.Optional(Type.Boolean({ description: 'every device of the tenant' })),
    site_ids: Type.Optional(Type.Array(Type.String(), { description: `in one of these sites (at most ${MAX_SITES})` })),
    device_prefix: Type.Optional(Type.String({ description: 'ids starting with this' })),
    device_ids: Type.Optional(Type.Array(Type.String(), { description: `these devices (at most ${MAX_DEVICE_IDS})` })),
    tags_any: Type.Optional(Type.Array(Type.String(), { description: `has any of these ${TAGS_DESCRIPTION}` })),
    tags_all: Type.Optional(Type.Array(Type.String(), { description: `has all of these ${TAGS_DESCRIPTION}` })),
    attributes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String(),
            op: Type.String({ description: OPS_TEXT }),
            value: Type.Optional(
              Type.Unsafe<AttributeValue | AttributeValue[]>({ description: 'absent for exists; a list for one_of' }),
            ),
          },
          { additionalProperties: false },
        ),
        {
          description: `conditions on attributes, all of which must hold (at most ${MAX_CONDITIONS}): ${CONDITION_DESCRIPTION}`,
        },
      ),
    ),
    status: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'health status, any of ONLINE, STALE, OFFLINE (REVOKED: in lists only; jobs select ACTIVE devices)',
      }),
    ),
  },
  { additionalProperties: false, description: 'criteria given together must all match' },
);

const QueryList = (description: string) => Type.Union([Type.String(), Type.Array(Type.String())], { description });

/** The selector's criteria as query parameters of a list (selectorFromQuery reads them). */
export const SelectorQuery = Type.Object({
  tag: Type.Optional(QueryList('has any of these tags: tag=a&tag=b or tag=a,b')),
  tags_all: Type.Optional(QueryList('has all of these tags: tags_all=a&tags_all=b or tags_all=a,b')),
  attr: Type.Optional(
    QueryList(
      'attribute conditions key:op:value, all of which must hold, e.g. attr=model:eq:X200, attr=battery_v:lt:3.3, ' +
        'attr=installed_on:gte:2025-01-01, attr=model:one_of:X200|X300, attr=model:exists. Values: true/false, ' +
        `numbers, dates, else text ("42" in quotes is text). Operators: ${CONDITION_DESCRIPTION}`,
    ),
  ),
  status: Type.Optional(
    QueryList('any of ONLINE, STALE, OFFLINE, REVOKED: status=ONLINE&status=STALE or ONLINE,STALE'),
  ),
  site_id: Type.Optional(QueryList('in one of these sites, exactly (repeat for more)')),
  prefix: Type.Optional(Type.String({ description: 'device ids starting with this' })),
});
export type SelectorQuery = Static<typeof SelectorQuery>;

/** Whether the selector names anything; `{}` selects nothing rather than the whole fleet by accident. */
export const selectsSomething = (s: DeviceSelector) =>
  s.all === true ||
  !!s.device_prefix ||
  [s.site_ids, s.device_ids, s.tags_any, s.tags_all, s.attributes, s.status].some((list) => (list?.length ?? 0) > 0);

const COMPARISONS = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;
/** Where device_attribute_values keeps a value of each type, and its SQL type. */
const VALUE_COLUMNS: Record<AttributeType, [column: string, type: string]> = {
  text: ['text_value', 'text'],
  date: ['date_value', 'date'],
  number: ['number_value', 'float8'],
  boolean: ['boolean_value', 'boolean'],
};

/** One condition on an attribute's row of device_attribute_values (true for exists: the row is there). */
function valueCondition({ op, value }: AttributeCondition, param: (value: unknown) => string): string {
  if (op === 'exists') return 'TRUE';
  const values = [value as AttributeValue | AttributeValue[]].flat();
  const type = attributeType(values[0])!;
  const [column, sqlType] = VALUE_COLUMNS[type];
  if (op === 'one_of') return `${column} = ANY (${param(values)}::${sqlType}[])`;
  const operand = `${param(value)}::${sqlType}`;
  if (op === 'eq') return `${column} = ${operand}`;
  if (op === 'ne') return `${column} IS DISTINCT FROM ${operand}`;
  return `${column} ${COMPARISONS[op]} ${operand}`;
}

/**
 * The selector's conditions over DEVICE_FROM, the tenant being $1 of `params` and every value a parameter
 * added to them (so the SQL is built from this module's text only). Tags and attributes are looked up in
 * device_tags and device_attribute_values (migration 034 says why); a device holds one value per attribute,
 * so the conditions on one key are one lookup.
 */
function conditionsOf(selector: DeviceSelector, params: unknown[]): string[] {
  const param = (value: unknown) => `$${params.push(value)}`;
  const tagged = `SELECT device_id FROM device_tags WHERE tenant_id = $1 AND tag`;
  const conditions: string[] = [];
  if (selector.site_ids?.length) conditions.push(`dr.site_id = ANY (${param(selector.site_ids)}::text[])`);
  if (selector.device_prefix) conditions.push(`starts_with(dr.device_id, ${param(selector.device_prefix)})`);
  if (selector.device_ids?.length) conditions.push(`dr.device_id = ANY (${param(selector.device_ids)}::text[])`);
  if (selector.tags_any?.length)
    conditions.push(`dr.device_id IN (${tagged} = ANY (${param(selector.tags_any)}::text[]))`);
  // One lookup per tag: the planner starts with the rarest.
  for (const tag of selector.tags_all ?? []) conditions.push(`dr.device_id IN (${tagged} = ${param(tag)})`);
  if (selector.status?.length) {
    // ONLINE or STALE is device_state's own status (a device never heard from has none), which its
    // (tenant_id, status) index finds; OFFLINE and REVOKED are worked out as the lists show them.
    const heardFrom = selector.status.every((status) => status === 'ONLINE' || status === 'STALE');
    const status = heardFrom ? `dr.status <> 'REVOKED' AND ds.status` : DEVICE_STATUS;
    conditions.push(`${status} = ANY (${param(selector.status)}::text[])`);
  }
  const byKey = new Map<string, AttributeCondition[]>();
  for (const condition of selector.attributes ?? [])
    byKey.set(condition.key, [...(byKey.get(condition.key) ?? []), condition]);
  for (const [key, onKey] of byKey) {
    const values = onKey.map((condition) => ` AND ${valueCondition(condition, param)}`).join('');
    conditions.push(
      `dr.device_id IN (SELECT device_id FROM device_attribute_values WHERE tenant_id = $1 AND key = ${param(key)}${values})`,
    );
  }
  return conditions;
}

/** The ACTIVE devices a selector picks: the WHERE clause and its parameters, the tenant first. */
function activeSelection(tx: TenantScope, selector: DeviceSelector) {
  const params: unknown[] = [tx.tenantId];
  const where = [`dr.tenant_id = $1`, `dr.status = 'ACTIVE'`, ...conditionsOf(selector, params)].join(' AND ');
  return { where, params };
}

export async function countSelection(tx: TenantScope, selector: DeviceSelector): Promise<number> {
  if (!selectsSomething(selector)) return 0;
  const { where, params } = activeSelection(tx, selector);
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${DEVICE_FROM} WHERE ${where}`,
    params,
  );
  return rows[0]!.n;
}

/** The selected devices' ids, in id order; the first `limit` of them when given. */
export async function selectDevices(tx: TenantScope, selector: DeviceSelector, limit?: number): Promise<string[]> {
  if (!selectsSomething(selector)) return [];
  const { where, params } = activeSelection(tx, selector);
  const { rows } = await tx.query<{ device_id: string }>(
    `SELECT dr.device_id FROM ${DEVICE_FROM} WHERE ${where} ORDER BY dr.device_id LIMIT $${params.length + 1}`,
    [...params, limit ?? null],
  );
  return rows.map((row) => row.device_id);
}

/** How a fleet-wide read splits the selected devices: by site, by tag (a device in each of its tags), or by
 * an attribute's value (devices without it left out). */
export type GroupBy = { by: 'site' } | { by: 'tag' } | { by: 'attribute'; key: string };

/** At most this many groups in one read: a chart of more is no longer read by anyone. */
export const MAX_GROUPS = 100;

const GROUP_JOINS: Record<GroupBy['by'], (param: (value: unknown) => string, groupBy: GroupBy) => [string, string]> = {
  site: () => ['', 'dr.site_id'],
  tag: () => [`JOIN device_tags g ON g.tenant_id = dr.tenant_id AND g.device_id = dr.device_id`, 'g.tag'],
  attribute: (param, groupBy) => [
    `JOIN device_attribute_values g ON g.tenant_id = dr.tenant_id AND g.device_id = dr.device_id
         AND g.key = ${param((groupBy as { key: string }).key)}`,
    // A date's text is in text_value too.
    `COALESCE(g.text_value, g.number_value::text, g.boolean_value::text)`,
  ],
};

/**
 * The devices of any registry status a read covers (`{}`: the whole fleet), each with its group when
 * `groupBy` is given (a device with two tags twice). More than MAX_GROUPS groups is a request to narrow.
 */
export async function devicesByGroup(
  tx: TenantScope,
  selector: DeviceSelector,
  groupBy?: GroupBy,
): Promise<{ device_id: string; group: string }[]> {
  const params: unknown[] = [tx.tenantId];
  const conditions = [`dr.tenant_id = $1`, ...conditionsOf(selector, params)];
  const [join, group] = groupBy ? GROUP_JOINS[groupBy.by]((value) => `$${params.push(value)}`, groupBy) : ['', `''`];
  const { rows } = await tx.query<{ device_id: string; group: string }>(
    `SELECT dr.device_id, ${group} AS group FROM ${DEVICE_FROM} ${join} WHERE ${conditions.join(' AND ')}`,
    params,
  );
  checkGroupCount(new Set(rows.map((row) => row.group)).size);
  return rows;
}

/** Refuses more than MAX_GROUPS groups: one line or bar each would not be read. */
export function checkGroupCount(groups: number): void {
  if (groups > MAX_GROUPS)
    throw new AppError(
      'INVALID_REQUEST',
      `group_by gives ${groups} groups; at most ${MAX_GROUPS}: narrow the selection or group by something coarser`,
    );
}

/**
 * The devices of any registry status a scope's selector picks (a rule's, a route's, a silence's), among
 * `among` when given: the few devices a batch of alerts is about.
 */
export async function scopeMembers(tx: TenantScope, selector: DeviceSelector, among?: string[]): Promise<string[]> {
  const params: unknown[] = [tx.tenantId];
  const conditions = [`dr.tenant_id = $1`, ...conditionsOf(selector, params)];
  if (among) conditions.push(`dr.device_id = ANY ($${params.push(among)}::text[])`);
  const { rows } = await tx.query<{ device_id: string }>(
    `SELECT dr.device_id FROM ${DEVICE_FROM} WHERE ${conditions.join(' AND ')}`,
    params,
  );
  return rows.map((row) => row.device_id);
}

/**
 * Whether an alert's device is in the scope of a route or silence (`{}` or null: every device), for the
 * alerts of one dispatch: each scope with a selector is read once, among these alerts' devices only.
 */
export async function scopeMatcher(
  tx: ServiceTx,
  scopes: { tenant_id: string; selector: DeviceSelector | null }[],
  alerts: { tenant_id: string; device_id: string }[],
  onError: (error: unknown, scope: { tenant_id: string }) => void = () => undefined,
): Promise<(scope: { selector: DeviceSelector | null }, alert: { device_id: string }) => boolean> {
  const members = new Map<object, Set<string>>();
  for (const scope of scopes) {
    if (!scope.selector || members.has(scope)) continue;
    const among = [...new Set(alerts.filter((a) => a.tenant_id === scope.tenant_id).map((a) => a.device_id))];
    // A selector that cannot be read (written by hand in SQL) picks nothing, in a savepoint: the batch's
    // other tenants and scopes go on.
    const picked =
      among.length === 0
        ? []
        : await inSavepoint(tx, () => scopeMembers(narrow(tx, scope.tenant_id), scope.selector!, among)).catch(
            (error: unknown) => {
              onError(error, scope);
              return [];
            },
          );
    members.set(scope, new Set(picked));
  }
  return (scope, alert) => !scope.selector || (members.get(scope)?.has(alert.device_id) ?? false);
}

export interface DeviceListFilter {
  limit: number;
  offset: number;
  /** Which devices, of any registry status; `{}` lists them all. */
  selector: DeviceSelector;
  /** Substring of the site id (case-insensitive). */
  siteSearch?: string | undefined;
  /** Substring of the device id (case-insensitive). */
  search?: string | undefined;
  sort: 'device_id' | 'site_id' | 'status' | 'last_seen_at';
  order: 'asc' | 'desc';
}

// Devices never heard from have no last_seen_at: first going up, last going down. The other keys are never
// null, and saying nothing of nulls lets an index on (tenant_id, site_id) give the order.
const SORT_SQL: Record<DeviceListFilter['sort'], Record<DeviceListFilter['order'], string>> = {
  device_id: { asc: 'dr.device_id', desc: 'dr.device_id DESC' },
  site_id: { asc: 'dr.site_id', desc: 'dr.site_id DESC' },
  status: { asc: 'status', desc: 'status DESC' },
  last_seen_at: { asc: 'ds.last_seen_at NULLS FIRST', desc: 'ds.last_seen_at DESC NULLS LAST' },
};

/** A page of the tenant's devices the filter picks, and how many it picks in all. */
export async function listDevices(tx: TenantTx, filter: DeviceListFilter) {
  const params: unknown[] = [tx.tenantId];
  const conditions = [`dr.tenant_id = $1`, ...conditionsOf(filter.selector, params)];
  const search = escapeLike(filter.search);
  if (search) conditions.push(`dr.device_id ILIKE '%' || $${params.push(search)} || '%'`);
  const siteSearch = escapeLike(filter.siteSearch);
  if (siteSearch) conditions.push(`dr.site_id ILIKE '%' || $${params.push(siteSearch)} || '%'`);
  const where = conditions.join(' AND ');
  const page = params.length;
  // A page and a count walk indexes for milliseconds; starting parallel workers for them costs more than
  // that (30-80 ms on two cores, ADR 029), which the planner's estimate does not know.
  await tx.query(`SET LOCAL max_parallel_workers_per_gather = 0`);
  const [rows, total] = await Promise.all([
    tx.query<Device>(
      `SELECT ${DEVICE_COLUMNS} FROM ${DEVICE_FROM} WHERE ${where}
       ORDER BY ${SORT_SQL[filter.sort][filter.order]}, dr.site_id, dr.device_id LIMIT $${page + 1} OFFSET $${page + 2}`,
      [...params, filter.limit, filter.offset],
    ),
    tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${DEVICE_FROM} WHERE ${where}`, params),
  ]);
  return { devices: rows.rows, total: total.rows[0]!.total };
}
