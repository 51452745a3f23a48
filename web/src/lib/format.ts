// How times and numbers read: the browser's zone, relative times, units from metric names.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function timeAgo(value: string | number | null | undefined, now = Date.now()): string {
  if (value === null || value === undefined) return 'never';
  const seconds = Math.round((new Date(value).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, 'second');
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86_400), 'day');
}

export const dateTime = (value: string | number | null | undefined) =>
  value === null || value === undefined ? '—' : new Date(value).toLocaleString();

const BYTE_UNITS = ['bytes', 'KiB', 'MiB', 'GiB'];

/** A size as people read it: "812 bytes", "700 KiB", "1.5 MiB". */
export function byteSize(size: number): string {
  let unit = 0;
  let value = size;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(undefined, { maximumFractionDigits: digits })} ${BYTE_UNITS[unit]}`;
}

const UNITS: [RegExp, string][] = [
  [/_pct$/, '%'],
  [/_c$/, '°C'],
  [/_dbm$/, 'dBm'],
  [/_db$/, 'dB'],
  [/_psi$/, 'psi'],
  [/_g$/, 'g'],
  [/_v$/, 'V'],
];

export const unitOf = (metric: string) => UNITS.find(([pattern]) => pattern.test(metric))?.[1] ?? '';

export function formatValue(value: number | boolean | null | undefined, metric = ''): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const unit = unitOf(metric);
  return `${value.toLocaleString(undefined, { maximumFractionDigits: digits })}${unit ? ` ${unit}` : ''}`;
}

/** The one mapping of severities to words (the API's severity_label, in sentence case); numbers stay in the API. */
export const SEVERITY: Record<number, { label: string; tone: string }> = {
  1: { label: 'Info', tone: 'bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-200' },
  2: { label: 'Low', tone: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200' },
  3: { label: 'Warning', tone: 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200' },
  4: { label: 'High', tone: 'bg-orange-100 text-orange-800 dark:bg-orange-900/50 dark:text-orange-200' },
  5: { label: 'Critical', tone: 'bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200' },
};

/** A severity in words: "Critical", or the number when it is none of 1-5. */
export const severityName = (severity: number | null | undefined) =>
  severity === null || severity === undefined ? '—' : (SEVERITY[severity]?.label ?? String(severity));

/** Severities for a select, most severe first: [5, 'Critical'] … [1, 'Info']. */
export const SEVERITY_CHOICES = [5, 4, 3, 2, 1].map((value) => [value, severityName(value)] as const);
