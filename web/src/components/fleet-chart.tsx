// The fleet's average of one metric over the last day, as one line or one line per site or tag (issue 31):
// the server groups from its rollups; here at most MAX_LINES lines are drawn, those with the most samples.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../lib/api';
import { unitOf } from '../lib/format';
import type { Answer } from '../lib/types';
import { Lines } from './charts';
import { Loaded } from './ui';

type Chart = Answer<'/api/v2/telemetry/chart'>;
type Bucket = Chart['series'][number];

const HOURS = 24;
/** More lines than this are unreadable on a card: the rest are left out, and the card says so. */
const MAX_LINES = 10;
const GROUPINGS = [
  ['', 'none'],
  ['site', 'site'],
  ['tag', 'tag'],
] as const;

const samplesOf = (buckets: Bucket[]) => buckets.reduce((sum, bucket) => sum + bucket.samples, 0);

/** The lines to draw: the fleet's, or the groups' with the most samples first, at most MAX_LINES. */
function linesOf(chart: Chart): { lines: { name: string; points: Bucket[] }[]; groupCount: number } {
  if (!chart.groups) return { lines: [{ name: chart.metric, points: chart.series }], groupCount: 0 };
  const groups = Object.entries(chart.groups).sort(([, a], [, b]) => samplesOf(b) - samplesOf(a));
  return {
    lines: groups.slice(0, MAX_LINES).map(([name, points]) => ({ name, points })),
    groupCount: groups.length,
  };
}

export function FleetChart({ metrics }: { metrics: string[] }) {
  const [chosen, setChosen] = useState('');
  const [groupBy, setGroupBy] = useState('');
  const metric = chosen || (metrics.includes('temp_c') ? 'temp_c' : (metrics[0] ?? ''));
  const query = { metric, hours: HOURS, ...(groupBy && { group_by: groupBy }) };
  const chart = useQuery({
    queryKey: ['fleet-chart', query],
    queryFn: () => unwrap(api.GET('/api/v2/telemetry/chart', { params: { query } })),
    enabled: metric !== '',
    refetchInterval: 60_000,
  });
  return (
    <div className="card min-w-0">
      <div className="mb-2 flex flex-wrap items-center gap-2">
        <h2 className="mr-auto text-sm font-semibold">Fleet average, last {HOURS} h</h2>
        <select
          className="input max-w-40"
          aria-label="Fleet chart metric"
          value={metric}
          onChange={(e) => setChosen(e.target.value)}
        >
          {metrics.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </select>
        <label className="flex items-center gap-1 text-sm">
          Group by
          <select className="input max-w-28" value={groupBy} onChange={(e) => setGroupBy(e.target.value)}>
            {GROUPINGS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {metric === '' ? (
        <p className="text-sm text-slate-500">No device has reported a number in the last hour.</p>
      ) : (
        <Loaded query={chart}>
          {(data) => {
            const { lines, groupCount } = linesOf(data);
            return (
              <>
                <Lines
                  unit={unitOf(metric)}
                  series={lines.map((line) => ({
                    name: line.name,
                    points: line.points.map((bucket) => ({ time: bucket.time, value: bucket.avg })),
                  }))}
                  attributes={{
                    'data-testid': 'fleet-chart',
                    'data-lines': JSON.stringify(lines.map((line) => line.name)),
                  }}
                />
                {groupCount > MAX_LINES && (
                  <p className="mt-1 text-xs text-slate-500" role="note">
                    {groupCount} groups: the {MAX_LINES} with the most samples are drawn.
                  </p>
                )}
              </>
            );
          }}
        </Loaded>
      )}
    </div>
  );
}
