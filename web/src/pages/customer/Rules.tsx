import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { enabledColumn, QueryTable } from '../../components/table';
import { EditDeleteButtons, ErrorBox, Field, Modal, Page, SeverityBadge } from '../../components/ui';
import { api } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import type { Answer, Rule } from '../../lib/types';
import { SEVERITY_CHOICES } from '../../lib/format';

type Draft = Partial<Rule> & { site_ids_text?: string };

/** `onDone` gets the API's warning about the saved rule, if it has one (a metric no device reported). */
export function RuleForm({ rule, onDone }: { rule: Draft; onDone: (warning?: string) => void }) {
  const client = useQueryClient();
  // What this tenant's devices report, suggested as the metric and warned about before saving.
  const reported = useQuery({
    queryKey: ['metrics'],
    queryFn: () => api<Answer<'/customer/metrics'>>('/customer/metrics'),
  }).data?.metrics;
  const [metric, setMetric] = useState(rule.metric_name ?? '');
  const unknownMetric = reported && reported.length > 0 && metric.trim() !== '' && !reported.includes(metric.trim());
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      rule.rule_id
        ? api<Answer<'/customer/alert-rules/{rule_id}', 'patch'>>(`/customer/alert-rules/${rule.rule_id}`, {
            method: 'PATCH',
            body,
          })
        : api<Answer<'/customer/alert-rules', 'post'>>('/customer/alert-rules', { method: 'POST', body }),
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
    save.mutate({
      name: form.get('name'),
      metric_name: form.get('metric_name'),
      operator: form.get('operator'),
      threshold: Number(form.get('threshold')),
      severity: Number(form.get('severity')),
      duration_seconds: Number(form.get('duration_seconds') || 0),
      hysteresis: Number(form.get('hysteresis') || 0),
      description: form.get('description') || null,
      site_ids: sites.length ? sites : null,
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
      <Field label="Operator">
        <select className="input" name="operator" defaultValue={rule.operator ?? 'GT'}>
          {['GT', 'GTE', 'LT', 'LTE'].map((op) => (
            <option key={op}>{op}</option>
          ))}
        </select>
      </Field>
      <Field label="Threshold">
        <input className="input" name="threshold" type="number" step="any" required defaultValue={rule.threshold} />
      </Field>
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
      <Field label="Duration (s)" hint="violation must last this long">
        <input
          className="input"
          name="duration_seconds"
          type="number"
          min={0}
          defaultValue={rule.duration_seconds ?? 0}
        />
      </Field>
      <Field label="Hysteresis" hint="recover past threshold ± this to close">
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
        <button className="btn-primary" disabled={save.isPending}>
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
    queryFn: () => api<Answer<'/customer/alert-rules'>>('/customer/alert-rules'),
  });
  const [editing, setEditing] = useState<Draft | null>(null);
  const [warning, setWarning] = useState<string>();
  const remove = useMutation({
    mutationFn: (id: string) => api(`/customer/alert-rules/${id}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['rules'] }),
  });
  const toggle = useMutation({
    mutationFn: (rule: Rule) =>
      api(`/customer/alert-rules/${rule.rule_id}`, { method: 'PATCH', body: { enabled: !rule.enabled } }),
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
                {rule.metric_name} {rule.operator} {rule.threshold}
                {rule.site_ids && <div className="text-slate-500">sites: {rule.site_ids.join(', ')}</div>}
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
