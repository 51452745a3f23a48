// Checks of a device selector beyond its JSON schema, and the selector a list's query parameters name: pure
// functions, each problem a message that says what to fix (checkSelector returns it for any input; the
// routes' helpers throw it as a 400).
import { AppError } from '../errors.js';
import {
  ATTRIBUTE_OPS,
  MAX_CONDITIONS,
  MAX_DEVICE_IDS,
  MAX_SITES,
  type AttributeCondition,
  type AttributeOp,
  selectsSomething,
  type DeviceSelector,
  type GroupBy,
  type SelectorQuery,
} from './device-selection.js';
import {
  attributeKeyProblem,
  attributeType,
  attributeValueProblem,
  checkTags,
  isRecord,
  typedText,
  type AttributeValue,
} from './device-tags.js';
import { DEVICE_STATUSES } from './fleet.js';

const MAX_ONE_OF = 100;
const MAX_ID_LENGTH = 200;

type Checked<T> = { value: T } | { error: string };

const listOf = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** A list of at most `max` ids (site or device), each 1-200 characters. */
function checkIds(value: unknown, field: string, noun: string, max: number): Checked<string[]> {
  if (!Array.isArray(value)) return { error: `${field} must be a list of ${noun}s` };
  if (value.length > max) return { error: `${field} has ${listOf(value.length, noun)}; at most ${max}` };
  const bad = value.find((id) => typeof id !== 'string' || id.length < 1 || id.length > MAX_ID_LENGTH);
  if (bad !== undefined)
    return { error: `${field}: ${JSON.stringify(bad)} is no ${noun} (1-${MAX_ID_LENGTH} characters)` };
  return { value: value as string[] };
}

function checkStatuses(value: unknown): Checked<NonNullable<DeviceSelector['status']>> {
  const allowed = DEVICE_STATUSES.join(', ');
  if (!Array.isArray(value)) return { error: `status must be a list of statuses (${allowed})` };
  const statuses = value.map((status) => (typeof status === 'string' ? status.toUpperCase() : status));
  const bad = statuses.find((status) => !(DEVICE_STATUSES as readonly unknown[]).includes(status));
  if (bad !== undefined) return { error: `status: ${JSON.stringify(bad)} is no status (use ${allowed})` };
  return { value: [...new Set(statuses as (typeof DEVICE_STATUSES)[number][])] };
}

const VALUE_RULE = 'text, a number, true/false or a date "YYYY-MM-DD"';

function checkCondition(input: unknown, where: string): Checked<AttributeCondition> {
  if (!isRecord(input)) return { error: `${where} must be {"key": …, "op": …, "value": …}` };
  const extra = Object.keys(input).filter((field) => !['key', 'op', 'value'].includes(field));
  if (extra.length > 0) return { error: `${where}: unknown field ${extra.join(', ')} (use key, op and value)` };
  const { key, op, value } = input;
  const keyProblem = attributeKeyProblem(key);
  if (keyProblem) return { error: `${where}: ${keyProblem}` };
  const named = `${where} (${key as string})`;
  if (typeof op !== 'string' || !(ATTRIBUTE_OPS as readonly string[]).includes(op))
    return { error: `${named}: unknown op ${JSON.stringify(op)} (use ${ATTRIBUTE_OPS.join(', ')})` };
  const condition = { key: key as string, op: op as AttributeOp };
  if (op === 'exists') return value === undefined ? { value: condition } : { error: `${named}: exists takes no value` };
  if (value === undefined || value === null) return { error: `${named}: ${op} needs a value: ${VALUE_RULE}` };
  if (op === 'one_of') {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ONE_OF)
      return { error: `${named}: one_of needs a list of 1-${MAX_ONE_OF} values` };
    const problem = value.map((one) => attributeValueProblem('value', one)).find(Boolean);
    if (problem) return { error: `${named}: ${problem}` };
    const types = [...new Set(value.map(attributeType))];
    if (types.length > 1) return { error: `${named}: one_of needs values of one type, not ${types.join(' and ')}` };
    return { value: { ...condition, value: value as AttributeValue[] } };
  }
  const problem = attributeValueProblem('value', value);
  if (problem) return { error: `${named}: ${problem}` };
  const type = attributeType(value);
  if (op !== 'eq' && op !== 'ne' && type !== 'number' && type !== 'date')
    return { error: `${named}: ${op} compares numbers and dates, and ${JSON.stringify(value)} is ${type}` };
  return { value: { ...condition, value: value as AttributeValue } };
}

function checkConditions(value: unknown): Checked<AttributeCondition[]> {
  if (!Array.isArray(value)) return { error: 'attributes must be a list of {"key", "op", "value"} conditions' };
  if (value.length > MAX_CONDITIONS)
    return { error: `too many criteria: attributes has ${value.length} conditions; at most ${MAX_CONDITIONS}` };
  const conditions: AttributeCondition[] = [];
  for (const [i, input] of value.entries()) {
    const checked = checkCondition(input, `attributes[${i}]`);
    if ('error' in checked) return checked;
    conditions.push(checked.value);
  }
  return { value: conditions };
}

/** Each criterion's check: its normalised value, or what is wrong with it. */
const CHECKS: Record<keyof DeviceSelector, (value: unknown) => Checked<unknown>> = {
  all: (value) => (typeof value === 'boolean' ? { value } : { error: 'all must be true or false' }),
  site_ids: (value) => checkIds(value, 'site_ids', 'site id', MAX_SITES),
  device_prefix: (value) =>
    typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH
      ? { value }
      : { error: `device_prefix must be 1-${MAX_ID_LENGTH} characters` },
  device_ids: (value) => checkIds(value, 'device_ids', 'device id', MAX_DEVICE_IDS),
  tags_any: (value) => tagsOf(value, 'tags_any'),
  tags_all: (value) => tagsOf(value, 'tags_all'),
  attributes: checkConditions,
  status: checkStatuses,
};

const CRITERIA = Object.keys(CHECKS);

function tagsOf(value: unknown, field: string): Checked<string[]> {
  const checked = checkTags(value, field);
  return 'error' in checked ? checked : { value: checked.tags };
}

/** The selector normalised (tags sorted, statuses upper-case), or its first problem. */
export function checkSelector(input: unknown): { selector: DeviceSelector } | { error: string } {
  if (!isRecord(input)) return { error: `a selector must be a JSON object of criteria (${CRITERIA.join(', ')})` };
  const selector: Record<string, unknown> = {};
  for (const [criterion, value] of Object.entries(input)) {
    if (!Object.hasOwn(CHECKS, criterion))
      return { error: `unknown criterion ${JSON.stringify(criterion)} (use ${CRITERIA.join(', ')})` };
    if (value === undefined) continue;
    const checked = CHECKS[criterion as keyof typeof CHECKS](value);
    if ('error' in checked) return checked;
    selector[criterion] = checked.value;
  }
  return { selector: selector as DeviceSelector };
}

/** checkSelector for a route: the selector, or a 400 saying what to fix. */
export function requireSelector(input: unknown): DeviceSelector {
  const checked = checkSelector(input);
  if ('error' in checked) throw new AppError('INVALID_REQUEST', `Invalid selector: ${checked.error}`);
  return checked.selector;
}

const valuesOf = (value: string | string[] | undefined) => (value === undefined ? [] : [value].flat());
/** Values of a parameter given once or repeated, each also split at commas (tags and statuses hold none). */
const splitList = (value: string | string[] | undefined) =>
  valuesOf(value)
    .flatMap((one) => one.split(','))
    .map((one) => one.trim())
    .filter(Boolean);

/** `key:op:value`, `key:one_of:a|b`, `key:exists` as a condition (checked by checkSelector after). */
function conditionFromText(text: string): unknown {
  const [key, op, ...rest] = text.split(':');
  if (op === undefined) return text;
  if (rest.length === 0) return { key, op };
  const value = rest.join(':');
  return { key, op, value: op === 'one_of' ? value.split('|').map(typedText) : typedText(value) };
}

/** The selector a list's query parameters name (SelectorQuery), or what is wrong with them. */
export function selectorFromQuery(query: SelectorQuery): DeviceSelector {
  const conditions = valuesOf(query.attr).map(conditionFromText);
  const malformed = conditions.find((condition) => typeof condition === 'string');
  if (malformed !== undefined)
    throw new AppError(
      'INVALID_REQUEST',
      `attr=${malformed as string} must be key:op:value, e.g. attr=model:eq:X200 or attr=model:exists`,
    );
  const criteria = {
    tags_any: splitList(query.tag),
    tags_all: splitList(query.tags_all),
    attributes: conditions,
    status: splitList(query.status),
    site_ids: valuesOf(query.site_id),
    device_prefix: query.prefix || undefined,
  };
  const given = Object.fromEntries(
    Object.entries(criteria).filter(([, value]) => value !== undefined && (!Array.isArray(value) || value.length > 0)),
  );
  return requireSelector(given);
}

/** `site`, `tag` or `attribute:<key>` as a GroupBy, or a 400 saying what to write. */
export function groupByFromText(text: string): GroupBy {
  if (text === 'site' || text === 'tag') return { by: text };
  if (text.startsWith('attribute:')) {
    const key = text.slice('attribute:'.length);
    const problem = attributeKeyProblem(key);
    if (problem) throw new AppError('INVALID_REQUEST', `group_by=${text}: ${problem}`);
    return { by: 'attribute', key };
  }
  throw new AppError('INVALID_REQUEST', `group_by=${text} must be site, tag or attribute:<key>, e.g. attribute:model`);
}

/**
 * A selector as the scope of a rule, route or silence: checked; null (every device) for null or `{"all": true}`;
 * criteria that name nothing are refused. A status would change with every heartbeat: a scope names devices,
 * not their health.
 */
export function scopeSelector(input: unknown, owner: string): DeviceSelector | null {
  if (input === null) return null;
  const { all, ...selector } = requireSelector(input);
  if (selector.status)
    throw new AppError(
      'INVALID_REQUEST',
      `Invalid selector: ${owner} cannot pick devices by status; use sites, an id prefix, devices, tags or attributes`,
    );
  if (selectsSomething(selector)) return selector;
  if (all) return null;
  // Criteria that name nothing ({"tags_any": []}) are a mistake, not "every device": a silence would hold all.
  throw new AppError(
    'INVALID_REQUEST',
    `Invalid selector: it names no devices; give criteria (sites, an id prefix, devices, tags, attributes), {"all": true} or null for every device`,
  );
}
