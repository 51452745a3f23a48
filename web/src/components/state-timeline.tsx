// A text metric's states over the page's range as one band of coloured segments (which value, from when to
// when: hover, focus or tap one for its times), with its latest value as text; live readings extend it.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { api, unwrap } from '../lib/api';
import { dateTime } from '../lib/format';
import { segmentBox, stateText, valueColors, withReadings } from '../lib/states';
import type { Span } from '../lib/types';
import { Loaded } from './ui';

export function StateTimeline({
  deviceId,
  metric,
  latest,
  readings,
  span,
  refetchMs,
}: {
  deviceId: string;
  metric: string;
  /** The metric's latest value. */
  latest: string;
  /** The metric's live readings, oldest first: the band follows them before it is fetched again. */
  readings: readonly { t: number; value: unknown }[];
  /** The range. */
  span: Span;
  /** How often the band follows new readings; false for a fixed range. */
  refetchMs: number | false;
}) {
  const states = useQuery({
    queryKey: ['states', deviceId, metric, span],
    queryFn: () =>
      unwrap(
        api.GET('/api/v2/devices/{device_id}/states', {
          params: { path: { device_id: deviceId }, query: { metric, ...span } },
        }),
      ),
    refetchInterval: refetchMs,
  });
  // A band that live readings extend runs on to now, growing each second as the state in force lasts.
  const [now, setNow] = useState(Date.now);
  const live = readings.length > 0;
  useEffect(() => {
    if (!live) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [live]);
  const band = useMemo(() => states.data && withReadings(states.data, readings, now), [states.data, readings, now]);
  const colors = useMemo(
    () => valueColors([latest, ...(band?.segments ?? []).map((segment) => stateText(segment.value))]),
    [latest, band],
  );
  return (
    <div className="space-y-1" data-testid={`states-${metric}`}>
      <div className="flex flex-wrap items-baseline justify-between gap-x-2">
        <h3 className="text-sm font-semibold">{metric}</h3>
        <span className="text-sm">
          now{' '}
          <span className="font-semibold" style={{ color: colors.get(latest) }} data-testid="latest-state">
            {latest}
          </span>
        </span>
      </div>
      <Loaded query={states} rows={1}>
        {() => (
          <StateBand
            metric={metric}
            colors={colors}
            segments={band!.segments}
            start={band!.start}
            end={band!.end}
            truncated={band!.truncated}
          />
        )}
      </Loaded>
    </div>
  );
}

/** A metric's states as one band of coloured segments, times on hover, focus or tap. */
export function StateBand({
  metric,
  colors,
  segments,
  start,
  end,
  truncated,
}: {
  metric: string;
  /** value → its colour (valueColors). */
  colors: Map<string, string>;
  segments: { value: unknown; from: string; to: string }[];
  start: string;
  end: string;
  truncated: boolean;
}) {
  // The segment whose times show, by when it began (its index would move as new readings come).
  const [shown, setShown] = useState<string | null>(null);
  if (segments.length === 0) return <p className="text-xs text-slate-500">No readings in this range.</p>;
  const detail = segments.find((segment) => segment.from === shown);
  return (
    <>
      <div
        role="group"
        aria-label={`${metric} over time`}
        className="relative h-6 w-full overflow-hidden rounded bg-slate-100 dark:bg-slate-800"
        onMouseLeave={() => setShown(null)}
      >
        {segments.map((segment) => {
          const value = stateText(segment.value);
          const { left, width } = segmentBox(segment, { start, end });
          const times = `${value}: ${dateTime(segment.from)} to ${dateTime(segment.to)}`;
          return (
            <button
              key={segment.from}
              type="button"
              className="absolute inset-y-0 focus-visible:outline-2 focus-visible:outline-indigo-500"
              style={{ left: `${left}%`, width: `${width}%`, background: colors.get(value) }}
              title={times}
              aria-label={times}
              data-testid="state-segment"
              data-value={value}
              onMouseEnter={() => setShown(segment.from)}
              onFocus={() => setShown(segment.from)}
              onClick={() => setShown(segment.from)}
            />
          );
        })}
      </div>
      <div className="flex justify-between gap-2 text-xs text-slate-500">
        <span>{dateTime(start)}</span>
        <span className="text-right">{dateTime(end)}</span>
      </div>
      <p className="min-h-4 text-xs" data-testid="state-detail">
        {detail ? (
          <>
            <span className="font-semibold">{stateText(detail.value)}</span> from {dateTime(detail.from)} to{' '}
            {dateTime(detail.to)}
          </>
        ) : (
          <span className="flex flex-wrap gap-x-3 gap-y-1">
            {[...colors].map(([value, color]) => (
              <span key={value} className="inline-flex items-center gap-1">
                <span className="h-2.5 w-2.5 rounded-sm" style={{ background: color }} aria-hidden />
                {value}
              </span>
            ))}
          </span>
        )}
      </p>
      {truncated && (
        <p className="text-xs text-amber-700 dark:text-amber-300">
          More readings than one band shows: it stops at {dateTime(segments.at(-1)!.to)}.
        </p>
      )}
    </>
  );
}
