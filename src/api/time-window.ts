// The time window of a telemetry query: `start`..`end` (ISO-8601; `end` defaults to now) when `start` is
// given, otherwise the last `hours`. Bad input is a 422 in FastAPI's shape naming the parameter.
import { AppError } from '../errors.js';

/** Longest window one query of raw rows may cover. */
export const MAX_WINDOW_DAYS = 31;
/** Longest window a chart may cover (it is drawn from rollups). */
export const MAX_CHART_DAYS = 731;

export interface TimeWindow {
  start: Date;
  end: Date;
  hours: number;
}

function invalid(parameter: string, msg: string): AppError {
  return new AppError('VALIDATION_FAILED', msg, { detail: [{ loc: ['query', parameter], msg, type: 'value_error' }] });
}

/** An ISO-8601 query parameter (UTC when it names no offset); a 422 naming it when it is not one. */
export function parseInstant(parameter: string, value: string): Date {
  // Date.parse reads an ISO string without an offset as local time; the API means UTC.
  const text = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw invalid(parameter, `${parameter} must be an ISO-8601 instant such as 2026-11-28T10:00:00Z (got "${value}")`);
  }
  return date;
}

export function timeWindow(
  query: { hours: number; start?: string | undefined; end?: string | undefined },
  now = new Date(),
  maxDays = MAX_WINDOW_DAYS,
): TimeWindow {
  const end = query.end === undefined ? now : parseInstant('end', query.end);
  if (query.start === undefined) {
    return { start: new Date(end.getTime() - query.hours * 3600_000), end, hours: query.hours };
  }
  const start = parseInstant('start', query.start);
  if (start >= end) throw invalid('start', 'start must be before end');
  if (end.getTime() - start.getTime() > maxDays * 86_400_000) {
    throw invalid('start', `the window may span at most ${maxDays} days`);
  }
  return { start, end, hours: Math.round(((end.getTime() - start.getTime()) / 3600_000) * 1000) / 1000 };
}

/** A window only when `start` or `end` is given (filters that are open-ended otherwise). */
export function timeWindowIfAny(query: {
  start?: string | undefined;
  end?: string | undefined;
}): { start?: Date; end?: Date } | undefined {
  if (query.start === undefined && query.end === undefined) return undefined;
  return {
    ...(query.start !== undefined && { start: parseInstant('start', query.start) }),
    ...(query.end !== undefined && { end: parseInstant('end', query.end) }),
  };
}
