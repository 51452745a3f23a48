// How far a fleet job got, as one bar of its devices: succeeded, failed (or timed out), canceled, in
// progress and pending, each a share of the total.
import type { Job } from '../lib/types';

type Counts = Job['counts'];

const PARTS: { label: string; count: (c: Counts) => number; tone: string }[] = [
  { label: 'succeeded', count: (c) => c.SUCCEEDED, tone: 'bg-emerald-500' },
  { label: 'failed', count: (c) => c.FAILED + c.TIMED_OUT, tone: 'bg-rose-500' },
  { label: 'canceled', count: (c) => c.CANCELED, tone: 'bg-slate-400' },
  { label: 'in progress', count: (c) => c.IN_PROGRESS, tone: 'bg-sky-500' },
  { label: 'pending', count: (c) => c.PENDING, tone: 'bg-slate-200 dark:bg-slate-700' },
];

/** The bar, and with `legend` each part's count in words under it. */
export function JobProgress({ counts, legend = false }: { counts: Counts; legend?: boolean }) {
  const parts = PARTS.map((part) => ({ ...part, n: part.count(counts) }));
  const words = parts.map((part) => `${part.n} ${part.label}`).join(', ');
  return (
    <div className="min-w-32">
      <div
        className="flex h-2.5 overflow-hidden rounded-full bg-slate-100 dark:bg-slate-800"
        role="img"
        aria-label={`${counts.total} devices: ${words}`}
        data-testid="job-progress"
        data-done={counts.total - counts.PENDING - counts.IN_PROGRESS}
        data-total={counts.total}
      >
        {parts.map(
          (part) =>
            part.n > 0 && (
              <div
                key={part.label}
                className={part.tone}
                style={{ width: `${(100 * part.n) / Math.max(1, counts.total)}%` }}
              />
            ),
        )}
      </div>
      {legend && (
        <ul className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs">
          {parts.map((part) => (
            <li key={part.label} className="flex items-center gap-1">
              <span className={`h-2 w-2 rounded-full ${part.tone}`} aria-hidden />
              <span className="tabular-nums">{part.n}</span> {part.label}
            </li>
          ))}
          <li className="text-slate-500">of {counts.total}</li>
        </ul>
      )}
    </div>
  );
}
