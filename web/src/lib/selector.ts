// A device selector as the web app holds it (issue 31): the devices list's `key:op:value` conditions read
// into the API's {key, op, value}, and a selector said in words for the lists of rules, routes, silences
// and jobs. The server checks every selector again (src/model/selector-input.ts) and says what to fix.

import type { Rule } from './types';

export type AttributeValue = string | number | boolean;
/** As the API documents it (the scope of a rule is one: every selector has this shape). */
export type DeviceSelector = NonNullable<Rule['selector']>;
type AttributeCondition = NonNullable<DeviceSelector['attributes']>[number];

export const ATTRIBUTE_OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'one_of', 'exists'] as const;

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** A typed value as the API reads `attr=` text: true/false, a number, else text ("42" in quotes is text). */
function typedText(text: string): AttributeValue {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  return NUMBER.test(trimmed) && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/** `key:op:value`, `key:one_of:a|b` or `key:exists` as a condition; null when it is not of that shape. */
export function conditionFromText(text: string): AttributeCondition | null {
  const [key, op, ...rest] = text.split(':');
  if (!key?.trim() || !op) return null;
  if (rest.length === 0) return op === 'exists' ? { key: key.trim(), op } : null;
  const value = rest.join(':');
  return { key: key.trim(), op, value: op === 'one_of' ? value.split('|').map(typedText) : typedText(value) };
}

/** A condition back as the devices list's `key:op:value` text. */
export function conditionToText({ key, op, value }: AttributeCondition): string {
  if (value === undefined) return `${key}:${op}`;
  return `${key}:${op}:${Array.isArray(value) ? value.map(String).join('|') : String(value)}`;
}

const OP_WORDS: Record<string, string> = {
  eq: '=',
  ne: '≠',
  lt: '<',
  lte: '≤',
  gt: '>',
  gte: '≥',
  one_of: 'one of',
};

/** A condition in words: `model = X200`, `battery_v < 3.3`, `model one of X200, X300`, `model set`. */
function conditionWords({ key, op, value }: AttributeCondition): string {
  if (op === 'exists') return `${key} set`;
  const shown = Array.isArray(value) ? value.map(String).join(', ') : String(value);
  return `${key} ${OP_WORDS[op] ?? op} ${shown}`;
}

/** The selector with the criteria left empty dropped; null when none is left (it narrows nothing). */
export function scopeOf(selector: DeviceSelector): DeviceSelector | null {
  const kept = Object.fromEntries(
    Object.entries(selector).filter(([, criterion]) =>
      Array.isArray(criterion) ? criterion.length > 0 : criterion !== undefined && criterion !== '',
    ),
  );
  return Object.keys(kept).length > 0 ? kept : null;
}

/**
 * A selector in words: "all devices", "sites plant-1, plant-2", "ids starting pump-", "3 listed devices",
 * "tags cold", "all tags a, b", "model = X200"; `none` when it names nothing.
 */
export function describeSelector(selector: DeviceSelector | null | undefined, none = 'no devices'): string {
  if (!selector) return none;
  return (
    [
      selector.all && 'all devices',
      selector.site_ids?.length && `sites ${selector.site_ids.join(', ')}`,
      selector.device_prefix && `ids starting ${selector.device_prefix}`,
      selector.device_ids?.length && `${selector.device_ids.length} listed devices`,
      selector.tags_any?.length && `tags ${selector.tags_any.join(', ')}`,
      selector.tags_all?.length && `all tags ${selector.tags_all.join(', ')}`,
      ...(selector.attributes ?? []).map(conditionWords),
      selector.status?.length && `status ${selector.status.join(', ')}`,
    ]
      .filter(Boolean)
      .join('; ') || none
  );
}
