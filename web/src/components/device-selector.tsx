// Choosing devices for a fleet job: the whole fleet, sites, an id prefix, a list of ids, tags (any) or
// attribute conditions as the devices list takes them, with how many
// ACTIVE devices that is now (and the first of them) counted by the server as it is typed.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, unwrap } from '../lib/api';
import { commaList } from '../lib/forms';
import { conditionFromText, type DeviceSelector } from '../lib/selector';
import { AttributeFilter, TagChips } from './device-labels';

const MODES = [
  ['all', 'All devices'],
  ['sites', 'Sites'],
  ['prefix', 'Id prefix'],
  ['ids', 'Device ids'],
  ['tags', 'Tags'],
  ['attributes', 'Attributes'],
] as const;
/** What was chosen: the mode, its text, and (attributes) conditions as the devices list writes them. */
export type SelectionInput = { mode: (typeof MODES)[number][0]; text: string; conditions?: string[] };

/** The API's selector for what was chosen; null while it names no device. */
export function toSelector({ mode, text, conditions = [] }: SelectionInput): DeviceSelector | null {
  if (mode === 'all') return { all: true };
  if (mode === 'prefix') return text.trim() ? { device_prefix: text.trim() } : null;
  if (mode === 'attributes') {
    const attributes = conditions.map(conditionFromText).filter((condition) => condition !== null);
    return attributes.length > 0 ? { attributes } : null;
  }
  const items = commaList(mode === 'ids' ? text.replace(/\s+/g, ',') : text);
  if (!items) return null;
  if (mode === 'tags') return { tags_any: items.map((tag) => tag.toLowerCase()) };
  return mode === 'sites' ? { site_ids: items } : { device_ids: items };
}

/** `value` after it stopped changing for `ms`. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

const COUNT_DELAY_MS = 400;

export function DeviceSelection({ value, onChange }: { value: SelectionInput; onChange: (v: SelectionInput) => void }) {
  const selector = toSelector(value);
  const asked = useSettled(JSON.stringify(selector), COUNT_DELAY_MS);
  const selection = useQuery({
    queryKey: ['selection', asked],
    queryFn: () =>
      unwrap(api.POST('/customer/devices/selection', { body: { selector: JSON.parse(asked) as DeviceSelector } })),
    enabled: asked !== 'null',
    placeholderData: keepPreviousData,
  });
  const counting = selection.isFetching || asked !== JSON.stringify(selector);
  const found = selector && selection.data;
  return (
    <fieldset className="space-y-2">
      <legend className="label">Devices</legend>
      <div className="flex flex-wrap gap-x-4 gap-y-1 text-sm">
        {MODES.map(([mode, label]) => (
          <label key={mode} className="flex items-center gap-1">
            <input
              type="radio"
              name="selection_mode"
              checked={value.mode === mode}
              onChange={() => onChange({ mode, text: '' })}
            />
            {label}
          </label>
        ))}
      </div>
      {value.mode === 'attributes' ? (
        <div className="space-y-1">
          <AttributeFilter
            action="Add condition"
            onAdd={(condition) => onChange({ ...value, conditions: [...(value.conditions ?? []), condition] })}
          />
          <TagChips
            tags={value.conditions ?? []}
            onRemove={(removed) =>
              onChange({ ...value, conditions: value.conditions?.filter((condition) => condition !== removed) })
            }
          />
        </div>
      ) : (
        value.mode !== 'all' && (
          <textarea
            className="input font-mono text-xs"
            rows={value.mode === 'ids' ? 3 : 1}
            aria-label={MODES.find(([mode]) => mode === value.mode)![1]}
            placeholder={
              {
                sites: 'plant-1, plant-2',
                prefix: 'pump-',
                ids: 'pump-001 pump-002 (spaces, commas or lines)',
                tags: 'cold-chain, batch-2025 (any of them)',
              }[value.mode]
            }
            value={value.text}
            onChange={(event) => onChange({ ...value, text: event.target.value })}
          />
        )
      )}
      <div className="text-sm" role="status" aria-live="polite">
        {!selector ? (
          <span className="text-slate-500">Choose which devices.</span>
        ) : selection.error ? (
          <span className="text-rose-600">{(selection.error as Error).message}</span>
        ) : found ? (
          <>
            <span className={counting ? 'opacity-50' : undefined}>
              <strong data-testid="selection-count" data-settled={!counting}>
                {found.count}
              </strong>{' '}
              active device{found.count === 1 ? '' : 's'}
            </span>
            {found.sample.length > 0 && (
              <span className="block truncate text-xs text-slate-500" data-testid="selection-sample">
                {found.sample.join(', ')}
                {found.count > found.sample.length && ` and ${found.count - found.sample.length} more`}
              </span>
            )}
          </>
        ) : (
          <span className="text-slate-500">Counting…</span>
        )}
      </div>
    </fieldset>
  );
}
