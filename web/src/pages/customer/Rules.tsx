import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { enabledColumn, QueryTable } from '../../components/table';
import { EditDeleteButtons, ErrorBox, Field, Modal, Page, SeverityBadge } from '../../components/ui';
import { api, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import type { Body, Rule } from '../../lib/types';
import { SEVERITY_CHOICES } from '../../lib/format';
import { ScopeFields } from '../../components/device-labels';
import { describeSelector, scopeOf, type DeviceSelector } from '../../lib/selector';

type Draft = Partial<Rule> & { site_ids_text?: string };
type Geofence = NonNullable<Body<'/customer/alert-rules', 'post'>['geofence']>;

const OPERATORS = {
  number: ['GT', 'GTE', 'LT', 'LTE'],
  text: ['EQ', 'NE', 'IN'],
  geofence: ['OUTSIDE', 'INSIDE'],
} as const;
type Kind = keyof typeof OPERATORS;
const kindOf = (operator: string | undefined): Kind =>
  (Object.keys(OPERATORS) as Kind[]).find((kind) => (OPERATORS[kind] as readonly string[]).includes(operator ?? '')) ??
  'number';
const OPERATOR_LABELS: Record<string, string> = {
  GT: '>',
  GTE: '≥',
  LT: '<',
  LTE: '≤',
  EQ: 'equals',
  NE: 'is not',
  IN: 'is one of',
  OUTSIDE: 'leaves the area',
  INSIDE: 'enters the area',
};

/** A rule's condition in words: `temp_c > 30`, `door equals open`, `position leaves the area (circle 1000 m)`. */
export function conditionText(
  rule: Pick<Rule, 'metric_name' | 'operator' | 'threshold' | 'values' | 'geofence'>,
): string {
  const label = OPERATOR_LABELS[rule.operator] ?? rule.operator;
  const kind = kindOf(rule.operator);
  if (kind === 'text') return `${rule.metric_name} ${label} ${(rule.values ?? []).join(', ')}`;
  if (kind === 'geofence') {
    const fence = rule.geofence;
    const area =
      fence?.type === 'circle' ? `circle ${fence.radius_m} m` : `polygon of ${fence?.points.length ?? 0} points`;
    return `${rule.metric_name} ${label} (${area})`;
  }
  return `${rule.metric_name} ${label} ${rule.threshold}`;
}

/** `onDone` gets the API's warning about the saved rule, if it has one (a metric no device reported). */
export function RuleForm({ rule, onDone }: { rule: Draft; onDone: (warning?: string) => void }) {
  const client = useQueryClient();
  // What this tenant's devices report, suggested as the metric and warned about before saving.
  const reported = useQuery({
    queryKey: ['metrics'],
    queryFn: () => unwrap(api.GET('/customer/metrics')),
  }).data?.metrics;
  const [metric, setMetric] = useState(rule.metric_name ?? '');
  const [operator, setOperator] = useState<string>(rule.operator ?? 'GT');
  const kind = kindOf(operator);
  const [fenceText, setFenceText] = useState(rule.geofence ? JSON.stringify(rule.geofence) : '');
  const fence = parseFence(fenceText);
  const [scope, setScope] = useState<DeviceSelector>(rule.selector ?? {});
  const unknownMetric = reported && reported.length > 0 && metric.trim() !== '' && !reported.includes(metric.trim());
  const save = useMutation({
    mutationFn: (body: Body<'/customer/alert-rules', 'post'>) =>
      unwrap(
        rule.rule_id
          ? api.PATCH('/customer/alert-rules/{rule_id}', { params: { path: { rule_id: rule.rule_id } }, body })
          : api.POST('/customer/alert-rules', { body }),
      ),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ['rules'] });
      onDone(saved?.warning);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const sites = String(form.get('site_ids') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const values = String(form.get('values') ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    save.mutate({
      name: String(form.get('name')),
      metric_name: String(form.get('metric_name')),
      operator,
      ...(kind === 'number' && { threshold: Number(form.get('threshold')) }),
      ...(kind === 'text' && { values }),
      ...(kind === 'geofence' && { geofence: fence.value }),
      severity: Number(form.get('severity')),
      duration_seconds: Number(form.get('duration_seconds') || 0),
      hysteresis: Number(form.get('hysteresis') || 0),
      description: String(form.get('description') ?? '') || null,
      site_ids: sites.length ? sites : null,
      selector: scopeOf(scope),
      enabled: form.get('enabled') === 'on',
    });
  };
  return (
    <form onSubmit={submit} className="grid grid-cols-2 gap-3" aria-label="Alert rule">
      <Field label="Name">
        <input className="input" name="name" required defaultValue={rule.name} />
      </Field>
      <Field label="Metric" hint={reported?.length ? `reported: ${reported.join(', ')}` : 'e.g. temp_c, battery_pct'}>
        <input
          className="input"
          name="metric_name"
          required
          list="reported-metrics"
          value={metric}
          onChange={(e) => setMetric(e.target.value)}
        />
        <datalist id="reported-metrics">
          {reported?.map((name) => (
            <option key={name} value={name} />
          ))}
        </datalist>
        {unknownMetric && (
          <span className="mt-1 block text-xs text-amber-700 dark:text-amber-400" role="status">
            No device has reported {metric.trim()}: this rule cannot fire until one does.
          </span>
        )}
      </Field>
      <Field label="Condition">
        <select className="input" name="operator" value={operator} onChange={(e) => setOperator(e.target.value)}>
          {(Object.keys(OPERATORS) as Kind[]).map((group) => (
            <optgroup key={group} label={{ number: 'Number', text: 'Text state', geofence: 'Position' }[group]}>
              {OPERATORS[group].map((op) => (
                <option key={op} value={op}>
                  {OPERATOR_LABELS[op]}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </Field>
      {kind === 'number' && (
        <Field label="Threshold">
          <input className="input" name="threshold" type="number" step="any" required defaultValue={rule.threshold} />
        </Field>
      )}
      {kind === 'text' && (
        <Field
          label={operator === 'IN' ? 'Values' : 'Value'}
          hint={operator === 'IN' ? 'comma-separated' : 'e.g. open'}
        >
          <input className="input" name="values" required defaultValue={rule.values?.join(', ')} />
        </Field>
      )}
      {kind === 'geofence' && (
        <Field
          label="Area"
          hint='{"type":"circle","lat":52.37,"lon":4.89,"radius_m":1000} or {"type":"polygon","points":[[lat,lon],…]}'
        >
          <textarea
            className="input font-mono text-xs"
            name="geofence"
            rows={3}
            required
            value={fenceText}
            onChange={(e) => setFenceText(e.target.value)}
            aria-invalid={fence.error !== undefined}
          />
          {fence.error && (
            <span className="mt-1 block text-xs text-red-700 dark:text-red-400" role="alert">
              {fence.error}
            </span>
          )}
        </Field>
      )}
      <Field label="Severity">
        <select className="input" name="severity" defaultValue={rule.severity ?? 3}>
          {SEVERITY_CHOICES.map(([value, name]) => (
            <option key={value} value={value}>
              {name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Sites" hint="comma-separated; empty = all">
        <input className="input" name="site_ids" defaultValue={rule.site_ids?.join(', ')} />
      </Field>
      <ScopeFields value={scope} onChange={setScope} withPrefix />
      <Field label="Duration (s)" hint="violation must last this long">
        <input
          className="input"
          name="duration_seconds"
          type="number"
          min={0}
          defaultValue={rule.duration_seconds ?? 0}
        />
      </Field>
      <Field
        label="Hysteresis"
        hint={
          kind === 'geofence'
            ? 'metres past the edge to close'
            : kind === 'text'
              ? 'not used for text'
              : 'recover past threshold ± this to close'
        }
      >
        <input
          className="input"
          name="hysteresis"
          type="number"
          min={0}
          step="any"
          defaultValue={rule.hysteresis ?? 0}
        />
      </Field>
      <div className="col-span-2">
        <Field label="Description">
          <input className="input" name="description" defaultValue={rule.description ?? ''} />
        </Field>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="enabled" defaultChecked={rule.enabled ?? true} /> Enabled
      </label>
      <div className="col-span-2">{save.error && <ErrorBox error={save.error} />}</div>
      <div className="col-span-2 flex justify-end gap-2">
        <button type="button" className="btn-ghost" onClick={() => onDone()}>
          Cancel
        </button>
        <button className="btn-primary" disabled={save.isPending || (kind === 'geofence' && fence.error !== undefined)}>
          Save rule
        </button>
      </div>
    </form>
  );
}

export default function Rules() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const rules = useQuery({
    queryKey: ['rules'],
    queryFn: () => unwrap(api.GET('/customer/alert-rules')),
  });
  const [editing, setEditing] = useState<Draft | null>(null);
  const [warning, setWarning] = useState<string>();
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/customer/alert-rules/{rule_id}', { params: { path: { rule_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['rules'] }),
  });
  const toggle = useMutation({
    mutationFn: (rule: Rule) =>
      unwrap(
        api.PATCH('/customer/alert-rules/{rule_id}', {
          params: { path: { rule_id: rule.rule_id } },
          body: { enabled: !rule.enabled },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: ['rules'] }),
  });
  return (
    <Page
      title="Alert rules"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setEditing({})}>
            New rule
          </button>
        )
      }
    >
      {(remove.error || toggle.error) && <ErrorBox error={remove.error ?? toggle.error} />}
      {warning && (
        <div role="status" className="card flex items-start justify-between gap-2 border-amber-300 text-sm">
          <span>{warning}</span>
          <button className="btn-ghost" onClick={() => setWarning(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      <QueryTable
        query={rules}
        rows={(data) => data.rules}
        rowKey={(rule) => rule.rule_id}
        empty="No rules yet."
        columns={[
          { header: 'Name', className: 'font-medium', cell: (rule) => rule.name },
          {
            header: 'Condition',
            className: 'font-mono text-xs',
            cell: (rule) => (
              <>
                {conditionText(rule)}
                {rule.site_ids && <div className="text-slate-500">sites: {rule.site_ids.join(', ')}</div>}
                {rule.selector && <div className="text-slate-500">devices: {describeSelector(rule.selector)}</div>}
              </>
            ),
          },
          { header: 'Severity', cell: (rule) => <SeverityBadge severity={rule.severity} /> },
          { header: 'Duration / hysteresis', cell: (rule) => `${rule.duration_seconds} s / ${rule.hysteresis}` },
          enabledColumn<Rule>(admin, (row) => toggle.mutate(row)),
          admin && {
            header: '',
            className: 'space-x-1 whitespace-nowrap',
            cell: (rule) => (
              <EditDeleteButtons
                onEdit={() => setEditing(rule)}
                onDelete={() => remove.mutate(rule.rule_id)}
                confirmText={`Delete rule ${rule.name}?`}
              />
            ),
          },
        ]}
      />
      <Modal
        open={editing !== null}
        title={editing?.rule_id ? 'Edit rule' : 'New rule'}
        onClose={() => setEditing(null)}
      >
        {editing && (
          <RuleForm
            rule={editing}
            onDone={(saved) => {
              setWarning(saved);
              setEditing(null);
            }}
          />
        )}
      </Modal>
    </Page>
  );
}

/** The area a user typed, as JSON, or what is wrong with it. */
/** An area as typed: its type is checked here, its points and radius by the API (which says what is wrong). */
function parseFence(text: string): { value?: Geofence; error?: string } {
  if (text.trim() === '') return { error: 'Give the area as JSON' };
  try {
    const value: unknown = JSON.parse(text);
    const type = (value as { type?: unknown } | null)?.type;
    if (type !== 'circle' && type !== 'polygon') return { error: 'The area needs "type": "circle" or "polygon"' };
    return { value: value as Geofence };
  } catch {
    return { error: 'Not JSON yet' };
  }
}
