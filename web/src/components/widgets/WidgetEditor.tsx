// A widget's editor (issue 32): a form for each widget type — devices and metrics picked from the tenant's,
// selectors, statistics, thresholds with colours, table columns, alert filters, Markdown — and its options
// as JSON for those who prefer to type them. What is applied is checked by the server as the dashboard
// is previewed and saved; the form only offers what the schema allows.
import { useQuery } from '@tanstack/react-query';
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { AddOnEnter } from '../device-labels';
import { ErrorBox, Field } from '../ui';
import { api, unwrap } from '../../lib/api';
import { ALERT_TYPES, readJson } from '../../lib/forms';
import { WIDGET_TYPE_NAMES, type DashboardDocument, type Widget } from '../../lib/dashboards';

type Options = Record<string, unknown>;
type Change = (key: string, value: unknown) => void;
/** What the pickers offer: the tenant's devices and reported metrics, and whether `$device` is declared. */
interface Offers {
  devices: string[];
  metrics: string[];
  deviceVariable: boolean;
}

const STATS = ['avg', 'min', 'max'] as const;
const VALUE_STATS = [...STATS, 'last'] as const;
const FLEET_VALUE_NAMES: Record<string, string> = {
  'fleet:devices': 'Devices (count)',
  'fleet:ONLINE': 'Devices online',
  'fleet:STALE': 'Devices stale',
  'fleet:OFFLINE': 'Devices offline',
  'fleet:REVOKED': 'Devices revoked',
  'fleet:online_pct': 'Online share (%)',
  'fleet:open_alerts': 'Open alerts',
};
const TABLE_COLUMNS = ['device_id', 'site_id', 'status', 'last_seen_at', 'tags'] as const;
const TABLE_SORTS = ['last_seen_at', 'device_id', 'site_id', 'status'] as const;
const ALERT_STATUSES = ['OPEN', 'ACKNOWLEDGED', 'CLOSED', 'ALL'] as const;
const MAX_SERIES_DEVICES = 10;
const MAX_SERIES_METRICS = 5;
const MAX_THRESHOLDS = 10;
const DEFAULT_THRESHOLD_COLOUR = '#dc2626';

function Select({
  label,
  value,
  onChange,
  choices,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  choices: readonly (readonly [string, string])[];
}) {
  return (
    <Field label={label}>
      {/* Named by the label alone: the label around it would add the text of every option. */}
      <select
        className="input w-full"
        aria-label={label}
        value={value}
        onChange={(event) => onChange(event.target.value)}
      >
        {choices.map(([choice, text]) => (
          <option key={choice} value={choice}>
            {text}
          </option>
        ))}
      </select>
    </Field>
  );
}

const named = (values: readonly string[]) => values.map((value) => [value, value] as const);

/** The metrics the tenant's devices have reported, as suggestions for the inputs that name `id`. */
function MetricSuggestions({ id, metrics }: { id: string; metrics: string[] }) {
  return (
    <datalist id={id}>
      {metrics.map((metric) => (
        <option key={metric} value={metric} />
      ))}
    </datalist>
  );
}

/** A metric name typed or picked from the metrics the tenant's devices have reported. */
function MetricInput({
  label,
  value,
  onChange,
  metrics,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  metrics: string[];
}) {
  const list = useId();
  return (
    <Field label={label}>
      <input
        className="input w-full"
        aria-label={label}
        list={list}
        value={value}
        placeholder="temp_c"
        onChange={(event) => onChange(event.target.value.trim())}
      />
      <MetricSuggestions id={list} metrics={metrics} />
    </Field>
  );
}

/** A device: one of the tenant's, `$device` when the dashboard declares it, or (`none`) no device. */
function DeviceInput({
  label,
  value,
  onChange,
  offers,
  none,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  offers: Offers;
  none?: string;
}) {
  const known = new Set(offers.devices);
  const choices: (readonly [string, string])[] = [
    ...(none === undefined ? [] : [['', none] as const]),
    ...(offers.deviceVariable ? [['$device', 'The device variable ($device)'] as const] : []),
    // A device no longer listed (or not among the first listed) stays offered as it is.
    ...(value && value !== '$device' && !known.has(value) ? [[value, value] as const] : []),
    ...named(offers.devices),
  ];
  if (none === undefined && !value) choices.unshift(['', 'Choose…']);
  return <Select label={label} value={value} onChange={onChange} choices={choices} />;
}

/** A list of values with a remove button each, and a way to add one more while under `max`. */
function ChosenList({
  legend,
  values,
  onChange,
  max,
  adder,
}: {
  legend: string;
  values: string[];
  onChange: (values: string[]) => void;
  max: number;
  adder: (add: (value: string) => void) => ReactNode;
}) {
  return (
    <fieldset className="space-y-1 text-sm">
      <legend className="label">{legend}</legend>
      <ul className="flex flex-wrap gap-1" aria-label={legend}>
        {values.map((value) => (
          <li key={value} className="flex items-center gap-1 rounded bg-slate-100 px-2 py-0.5 dark:bg-slate-800">
            {value}
            <button
              type="button"
              className="text-slate-500 hover:text-rose-600"
              aria-label={`Remove ${value}`}
              onClick={() => onChange(values.filter((v) => v !== value))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {values.length < max &&
        adder((value) => {
          if (value && !values.includes(value)) onChange([...values, value]);
        })}
    </fieldset>
  );
}

/** Adds the metric typed (Enter), suggesting those reported. */
function AddMetric({ add, metrics, label }: { add: (value: string) => void; metrics: string[]; label: string }) {
  const list = useId();
  return (
    <>
      <AddOnEnter label={label} placeholder="a metric, then Enter" onAdd={add} list={list} />
      <MetricSuggestions id={list} metrics={metrics} />
    </>
  );
}

function Checks({
  legend,
  values,
  checked,
  onChange,
  text = (value) => value,
}: {
  legend: string;
  values: readonly string[];
  checked: string[];
  onChange: (checked: string[]) => void;
  text?: (value: string) => string;
}) {
  return (
    <fieldset className="text-sm">
      <legend className="label">{legend}</legend>
      <div className="flex flex-wrap gap-x-3">
        {values.map((value) => (
          <label key={value} className="flex items-center gap-1">
            <input
              type="checkbox"
              checked={checked.includes(value)}
              onChange={(event) =>
                onChange(event.target.checked ? [...checked, value] : checked.filter((v) => v !== value))
              }
            />
            {text(value)}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function NumberInput({
  label,
  value,
  onChange,
  min,
  max,
}: {
  label: string;
  value: number | undefined;
  onChange: (value: number | undefined) => void;
  min?: number;
  max?: number;
}) {
  return (
    <Field label={label}>
      <input
        className="input w-full"
        aria-label={label}
        type="number"
        min={min}
        max={max}
        step="any"
        value={value ?? ''}
        onChange={(event) => onChange(event.target.value === '' ? undefined : Number(event.target.value))}
      />
    </Field>
  );
}

function Thresholds({
  thresholds,
  onChange,
}: {
  thresholds: { value: number; color: string }[];
  onChange: (thresholds: { value: number; color: string }[]) => void;
}) {
  const set = (index: number, threshold: { value: number; color: string }) =>
    onChange(thresholds.map((t, i) => (i === index ? threshold : t)));
  return (
    <fieldset className="space-y-1 text-sm" data-testid="thresholds">
      <legend className="label">Thresholds (from each value up, its colour)</legend>
      {thresholds.map((threshold, index) => (
        <div key={index} className="flex items-center gap-2">
          <input
            className="input w-28"
            type="number"
            step="any"
            aria-label={`Threshold ${index + 1} value`}
            value={threshold.value}
            onChange={(event) => set(index, { ...threshold, value: Number(event.target.value) })}
          />
          <input
            type="color"
            aria-label={`Threshold ${index + 1} colour`}
            value={threshold.color}
            onChange={(event) => set(index, { ...threshold, color: event.target.value })}
          />
          <button
            type="button"
            className="btn-ghost text-rose-600"
            onClick={() => onChange(thresholds.filter((_, i) => i !== index))}
          >
            Remove
          </button>
        </div>
      ))}
      {thresholds.length < MAX_THRESHOLDS && (
        <button
          type="button"
          className="btn-ghost"
          onClick={() =>
            onChange([...thresholds, { value: (thresholds.at(-1)?.value ?? 0) + 10, color: DEFAULT_THRESHOLD_COLOUR }])
          }
        >
          Add threshold
        </button>
      )}
    </fieldset>
  );
}

const grid = (children: ReactNode) => <div className="grid gap-3 sm:grid-cols-2">{children}</div>;
const text = (value: unknown) => (typeof value === 'string' ? value : '');
const list = (value: unknown) => (Array.isArray(value) ? (value as string[]) : []);

/** The form of one widget type's options. */
function OptionsForm({
  type,
  options,
  set,
  offers,
}: {
  type: Widget['type'];
  options: Options;
  set: Change;
  offers: Offers;
}) {
  switch (type) {
    case 'timeseries': {
      const devices = list(options.devices);
      return (
        <div className="space-y-3">
          <ChosenList
            legend="Metrics"
            values={list(options.metrics)}
            onChange={(metrics) => set('metrics', metrics)}
            max={MAX_SERIES_METRICS}
            adder={(add) => <AddMetric add={add} metrics={offers.metrics} label="Add metric" />}
          />
          {grid(
            <Select
              label="Group the fleet by"
              value={text(options.group_by)}
              onChange={(value) => {
                set('group_by', value || undefined);
                if (value) set('devices', []);
              }}
              choices={[
                ['', 'Nothing (the fleet or chosen devices)'],
                ['site', 'Site: one line per site'],
                ['tag', 'Tag: one line per tag'],
              ]}
            />,
          )}
          {!options.group_by && (
            <ChosenList
              legend="Devices (none: the fleet)"
              values={devices}
              onChange={(chosen) => set('devices', chosen)}
              max={MAX_SERIES_DEVICES}
              adder={(add) => (
                <DeviceInput label="Add device" value="" onChange={add} offers={offers} none="Add a device…" />
              )}
            />
          )}
          <Checks
            legend="Statistics"
            values={STATS}
            checked={list(options.stats)}
            onChange={(stats) => set('stats', stats)}
          />
        </div>
      );
    }
    case 'stat':
    case 'gauge': {
      const metric = text(options.metric);
      const fleetValue = metric.startsWith('fleet:');
      return (
        <div className="space-y-3">
          {grid(
            <>
              <Select
                label="Shows"
                value={fleetValue ? metric : 'metric'}
                onChange={(value) => {
                  set('metric', value === 'metric' ? '' : value);
                  // A count of the fleet is of no device.
                  if (value !== 'metric') set('device', undefined);
                }}
                choices={[['metric', 'A metric'], ...Object.entries(FLEET_VALUE_NAMES)]}
              />
              {!fleetValue && (
                <MetricInput
                  label="Metric"
                  value={metric}
                  onChange={(value) => set('metric', value)}
                  metrics={offers.metrics}
                />
              )}
              {!fleetValue && (
                <DeviceInput
                  label="Device"
                  value={text(options.device)}
                  onChange={(value) => set('device', value || undefined)}
                  offers={offers}
                  none="The fleet"
                />
              )}
              {!fleetValue && (
                <Select
                  label="Statistic"
                  value={text(options.stat) || 'avg'}
                  onChange={(value) => set('stat', value)}
                  choices={named(VALUE_STATS)}
                />
              )}
              <Field label="Unit">
                <input
                  className="input w-full"
                  maxLength={20}
                  value={text(options.unit)}
                  onChange={(event) => set('unit', event.target.value || undefined)}
                />
              </Field>
              {type === 'gauge' && (
                <>
                  <NumberInput label="Minimum" value={options.min as number} onChange={(v) => set('min', v)} />
                  <NumberInput label="Maximum" value={options.max as number} onChange={(v) => set('max', v)} />
                </>
              )}
            </>,
          )}
          <Thresholds
            thresholds={(options.thresholds as { value: number; color: string }[] | undefined) ?? []}
            onChange={(thresholds) => set('thresholds', thresholds)}
          />
        </div>
      );
    }
    case 'bar':
      return grid(
        <>
          <Select
            label="Bars"
            value={text(options.group_by) || 'status'}
            onChange={(value) => set('group_by', value)}
            choices={[
              ['status', 'Devices per status'],
              ['site', 'A metric per site'],
              ['tag', 'A metric per tag'],
              ['alerts_per_hour', 'Alerts opened and closed per hour'],
            ]}
          />
          {(options.group_by === 'site' || options.group_by === 'tag') && (
            <>
              <MetricInput
                label="Metric"
                value={text(options.metric)}
                onChange={(value) => set('metric', value || undefined)}
                metrics={offers.metrics}
              />
              <Select
                label="Statistic"
                value={text(options.stat) || 'avg'}
                onChange={(value) => set('stat', value)}
                choices={named(STATS)}
              />
            </>
          )}
        </>,
      );
    case 'table': {
      const columns = list(options.columns);
      return (
        <div className="space-y-3">
          <Checks
            legend="Columns"
            values={[...TABLE_COLUMNS, ...offers.metrics.map((metric) => `metric:${metric}`)]}
            checked={columns}
            onChange={(chosen) => set('columns', chosen)}
            text={(column) => (column.startsWith('metric:') ? `${column.slice('metric:'.length)} (latest)` : column)}
          />
          {grid(
            <>
              <Select
                label="Sort by"
                value={text(options.sort) || 'last_seen_at'}
                onChange={(value) => set('sort', value)}
                choices={TABLE_SORTS.map((sort) => [sort, sort === 'last_seen_at' ? 'last seen (newest first)' : sort])}
              />
              <NumberInput
                label="Rows (1–100)"
                value={options.limit as number}
                onChange={(v) => set('limit', v)}
                min={1}
                max={100}
              />
            </>,
          )}
        </div>
      );
    }
    case 'alerts':
      return grid(
        <>
          <Select
            label="Status"
            value={text(options.status) || 'OPEN'}
            onChange={(value) => set('status', value)}
            choices={named(ALERT_STATUSES)}
          />
          <Select
            label="Alert type"
            value={text(options.alert_type)}
            onChange={(value) => set('alert_type', value || undefined)}
            choices={[['', 'Any'], ...named(ALERT_TYPES)]}
          />
          <Select
            label="Lowest severity"
            value={String(options.min_severity ?? 1)}
            onChange={(value) => set('min_severity', Number(value))}
            choices={named(['1', '2', '3', '4', '5'])}
          />
          <NumberInput
            label="Alerts shown (1–100)"
            value={options.limit as number}
            onChange={(v) => set('limit', v)}
            min={1}
            max={100}
          />
        </>,
      );
    case 'states':
      return grid(
        <>
          <DeviceInput
            label="Device"
            value={text(options.device)}
            onChange={(value) => set('device', value)}
            offers={offers}
          />
          <MetricInput
            label="Text metric"
            value={text(options.metric)}
            onChange={(value) => set('metric', value)}
            metrics={offers.metrics}
          />
        </>,
      );
    case 'map':
      return grid(
        <MetricInput
          label="Position metric"
          value={text(options.metric) || 'position'}
          onChange={(value) => set('metric', value)}
          metrics={offers.metrics}
        />,
      );
    case 'text':
      return (
        <Field label="Markdown" hint="HTML in it is shown as text.">
          <textarea
            className="input h-40 w-full font-mono text-xs"
            maxLength={10_000}
            value={text(options.markdown)}
            onChange={(event) => set('markdown', event.target.value)}
          />
        </Field>
      );
  }
}

/** The tenant's devices (the first 500 by id) and reported metrics, for the pickers. */
function useOffers(document: DashboardDocument): Offers {
  const devices = useQuery({
    queryKey: ['dashboard-editor-devices'],
    queryFn: () =>
      unwrap(api.GET('/api/v2/devices', { params: { query: { limit: 500, sort: 'device_id', order: 'asc' } } })),
  });
  const metrics = useQuery({
    queryKey: ['metrics'],
    queryFn: () => unwrap(api.GET('/customer/metrics')),
  });
  return {
    devices: devices.data?.devices.map((device) => device.device_id) ?? [],
    metrics: metrics.data?.metrics ?? [],
    deviceVariable: document.variables.includes('device'),
  };
}

export function WidgetEditor({
  widget,
  document,
  onDone,
  onCancel,
}: {
  widget: Widget;
  /** The dashboard the widget is on: its variables decide what the pickers offer. */
  document: DashboardDocument;
  onDone: (widget: Widget) => void;
  onCancel: () => void;
}) {
  const offers = useOffers(document);
  const [title, setTitle] = useState(widget.title);
  const [size, setSize] = useState({ w: widget.layout.w, h: widget.layout.h });
  const [options, setOptions] = useState<Options>(widget.options as Options);
  const [json, setJson] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const set: Change = (key, value) =>
    setOptions((current) => {
      const next = { ...current };
      if (value === undefined) delete next[key];
      else next[key] = value;
      return next;
    });
  /** The JSON typed, as the options; null (and why, shown) when it is not a JSON object. */
  const fromJson = (typed: string): Options | null => {
    const read = readJson(typed, { object: true });
    if (read.error !== undefined) {
      setProblem(`The options are not a JSON object: ${read.error}`);
      return null;
    }
    setProblem(null);
    return read.value as Options;
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const applied = json === null ? options : fromJson(json);
    if (!applied) return;
    onDone({ ...widget, title, options: applied, layout: { ...widget.layout, ...size } } as Widget);
  };
  return (
    <form onSubmit={submit} className="space-y-3" data-testid="widget-editor" data-type={widget.type}>
      <p className="text-sm text-slate-500">{WIDGET_TYPE_NAMES[widget.type]}</p>
      <Field label="Title">
        <input
          className="input w-full"
          value={title}
          maxLength={100}
          onChange={(event) => setTitle(event.target.value)}
        />
      </Field>
      {json === null ? (
        <OptionsForm type={widget.type} options={options} set={set} offers={offers} />
      ) : (
        <Field label="Options (JSON)" hint="As docs/dashboards.md describes them.">
          <textarea
            className="input h-48 w-full font-mono text-xs"
            value={json}
            onChange={(event) => setJson(event.target.value)}
          />
        </Field>
      )}
      <label className="flex items-center gap-1 text-sm">
        <input
          type="checkbox"
          checked={json !== null}
          onChange={(event) => {
            if (event.target.checked) return setJson(JSON.stringify(options, null, 2));
            const typed = fromJson(json ?? '');
            if (!typed) return;
            setOptions(typed);
            setJson(null);
          }}
        />
        Edit the options as JSON
      </label>
      <div className="flex flex-wrap gap-3">
        <NumberInput
          label="Width (1–12 columns)"
          value={size.w}
          onChange={(w) => setSize({ ...size, w: w ?? widget.layout.w })}
          min={1}
          max={12}
        />
        <NumberInput
          label="Height (rows)"
          value={size.h}
          onChange={(h) => setSize({ ...size, h: h ?? widget.layout.h })}
          min={1}
          max={50}
        />
      </div>
      {problem && <ErrorBox error={new Error(problem)} />}
      <div className="flex gap-2">
        <button className="btn-primary">Apply</button>
        <button type="button" className="btn-ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
