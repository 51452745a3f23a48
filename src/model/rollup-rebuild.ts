// `pulse rollup rebuild --since <date>`: recomputes the rollups from raw rows, one UTC day per transaction
// from `since` through today — after an upgrade (rows stored before rollups existed), a bulk load or a
// manual fix. It first takes the watermark to now (rolling up on the way only rows older than the days it
// will recompute),
// so every row is counted once, by the rebuild or by the worker after it. Resumable: the last day done is
// kept in rollup_state, and the same --since goes on from the day after.
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { rebuildDay, rollupHorizon, rollupState, takeOverForRebuild } from './rollups.js';

const DAY_MS = 86_400_000;
const isoDay = (date: Date) => date.toISOString().slice(0, 10);

export interface RebuildProgress {
  day: string;
  done: number;
  days: number;
  messages: number;
  /** The messages of this day, and the seconds its transaction took: its rate, flat from day to day. */
  dayMessages: number;
  daySeconds: number;
}

/** The days to rebuild: from `since` (or the day after the last one done for it) through today. */
export function daysToRebuild(
  since: string,
  state: { rebuild_since: string | null; rebuild_done_through: string | null },
  today: string,
  restart: boolean,
): { all: string[]; todo: string[] } {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(since) || Number.isNaN(Date.parse(`${since}T00:00:00Z`))) {
    throw new AppError('INVALID_REQUEST', `--since must be a date such as 2026-11-01 (got "${since}")`);
  }
  if (since > today) throw new AppError('INVALID_REQUEST', `--since ${since} is after today (${today})`);
  const all: string[] = [];
  for (let day = Date.parse(`${since}T00:00:00Z`); isoDay(new Date(day)) <= today; day += DAY_MS) {
    all.push(isoDay(new Date(day)));
  }
  const resumeAfter = !restart && state.rebuild_since === since ? state.rebuild_done_through : null;
  return { all, todo: resumeAfter ? all.filter((day) => day > resumeAfter) : all };
}

/** Rebuilds day by day; returns how many messages were rolled up. */
export async function rebuildRollups(
  db: Database,
  since: string,
  options: { restart?: boolean; now?: Date; onProgress?: (progress: RebuildProgress) => void } = {},
): Promise<{ days: number; skipped: number; messages: number }> {
  const state = await db.withService(rollupState);
  const { all, todo } = daysToRebuild(since, state, isoDay(options.now ?? new Date()), options.restart ?? false);
  const horizon = await db.withService((tx) => rollupHorizon(tx, 0));
  // Rows before the first day still to rebuild (days done by an earlier run included) are rolled up now.
  const tomorrow = isoDay(new Date((options.now ?? new Date()).getTime() + DAY_MS));
  let messages = await db.withService((tx) => takeOverForRebuild(tx, todo[0] ?? tomorrow, horizon));
  let done = all.length - todo.length;
  for (const day of todo) {
    const started = performance.now();
    const dayMessages = await db.withService((tx) => rebuildDay(tx, day, since));
    messages += dayMessages;
    done += 1;
    const daySeconds = (performance.now() - started) / 1000;
    options.onProgress?.({ day, done, days: all.length, messages, dayMessages, daySeconds });
  }
  // A bulk load's pages are summarised for ingested_at now rather than at the next maintenance.
  await db.withService((tx) => tx.query('SELECT telemetry_summarize_ingested()'));
  return { days: todo.length, skipped: all.length - todo.length, messages };
}
