// Device tags and typed attributes (issue 31): what a fleet is organised by besides its sites. Their rules
// as pure functions, shared by the device API, the CSV import and the device selector.
import { Type } from '@sinclair/typebox';
import { MAX_METRIC_KEY_LENGTH, METRIC_KEY } from '../lib/metric-key.js';

export const MAX_TAGS = 50;
export const MAX_ATTRIBUTES = 50;
const MAX_TEXT_LENGTH = 256;
const TAG = /^[a-z0-9_.:-]{1,64}$/;
const TAG_RULE = 'lowercase letters, digits and - _ . : (at most 64 characters)';
const KEY_RULE = "a letter or '_' first, then letters, digits and _ . - (at most 128 characters)";
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// A JSON number: "007" or "1." stay text (serial numbers, versions).
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Text, a number, a boolean, or a date: text of the form YYYY-MM-DD. */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;
export type AttributeType = 'text' | 'number' | 'boolean' | 'date';

export const TAGS_DESCRIPTION = `tags: ${TAG_RULE}; at most ${MAX_TAGS} per device`;
export const ATTRIBUTES_DESCRIPTION = `key → text, number, boolean or date ("YYYY-MM-DD"); keys as metric names, at most ${MAX_ATTRIBUTES} per device`;

/** A device's attributes as the API shows them. */
export const AttributesView = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
  description: ATTRIBUTES_DESCRIPTION,
});
/**
 * Attributes as requests send them, `what` saying what they do: checked by checkAttributes, not by the schema,
 * whose type coercion would turn a number into text.
 */
export const AttributesInput = (what: string) =>
  Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    additionalProperties: true,
    description: `${what}: ${ATTRIBUTES_DESCRIPTION}`,
  });
/** Tags as requests send them (checked by checkTags). */
export const TagsInput = (what: string) => Type.Array(Type.String(), { description: `${what}; ${TAGS_DESCRIPTION}` });

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What is wrong with one tag, if anything. */
export function tagProblem(tag: unknown): string | undefined {
  if (typeof tag !== 'string') return 'a tag must be text';
  return TAG.test(tag) ? undefined : `tag ${JSON.stringify(tag)} must be ${TAG_RULE}`;
}

/** A list of tags, sorted and without repeats; `field` names it in the error. */
export function checkTags(value: unknown, field = 'tags'): { tags: string[] } | { error: string } {
  if (!Array.isArray(value)) return { error: `${field} must be a list of tags` };
  if (value.length > MAX_TAGS) return { error: `${field} has ${value.length} tags; at most ${MAX_TAGS}` };
  for (const tag of value) {
    const problem = tagProblem(tag);
    if (problem) return { error: `${field}: ${problem}` };
  }
  return { tags: [...new Set(value as string[])].sort() };
}

export function attributeKeyProblem(key: unknown): string | undefined {
  if (typeof key === 'string' && key.length <= MAX_METRIC_KEY_LENGTH && METRIC_KEY.test(key)) return undefined;
  return `attribute key ${JSON.stringify(key)} must be ${KEY_RULE}`;
}

/** The type of an attribute value; undefined when it is none (an object, NaN, text too long, 2025-02-30). */
export function attributeType(value: unknown): AttributeType | undefined {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isFinite(value) ? 'number' : undefined;
  if (typeof value !== 'string' || value.length > MAX_TEXT_LENGTH) return undefined;
  const date = DATE.exec(value);
  if (!date) return 'text';
  const [year, month, day] = date.slice(1).map(Number) as [number, number, number];
  const parsed = new Date(Date.UTC(year, month - 1, day));
  const real = parsed.getUTCFullYear() === year && parsed.getUTCMonth() === month - 1 && parsed.getUTCDate() === day;
  return real && year > 0 ? 'date' : undefined;
}

/** Why `value` is no attribute value, in words naming `key`. */
export function attributeValueProblem(key: string, value: unknown): string | undefined {
  if (attributeType(value) !== undefined) return undefined;
  if (typeof value === 'string' && DATE.test(value)) return `${key}: ${value} is not a date (YYYY-MM-DD)`;
  if (typeof value === 'string') return `${key}: text is at most ${MAX_TEXT_LENGTH} characters`;
  return `${key} must be text, a finite number, true/false or a date "YYYY-MM-DD"`;
}

export function checkAttributes(value: unknown): { attributes: Attributes } | { error: string } {
  if (!isRecord(value)) return { error: 'attributes must be a JSON object of key → value' };
  const keys = Object.keys(value);
  if (keys.length > MAX_ATTRIBUTES) return { error: `attributes has ${keys.length} keys; at most ${MAX_ATTRIBUTES}` };
  for (const key of keys) {
    const problem = attributeKeyProblem(key) ?? attributeValueProblem(key, value[key]);
    if (problem) return { error: `attributes: ${problem}` };
  }
  return { attributes: value as Attributes };
}

/**
 * Text (a CSV cell, a query parameter) as an attribute value: true or false, a JSON number, else text
 * (a date is text of its form); text in double quotes is that text, so "42" can be text.
 */
export function typedText(text: string): AttributeValue {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  return NUMBER.test(trimmed) && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}
