// Small building blocks every page uses: page frame, cards, badges, skeletons, errors with a retry,
// empty states, a modal dialog and a copy button.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { SEVERITY } from '../lib/format';

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Pulse`;
  }, [title]);
  return (
    <section className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">{title}</h1>
        <div className="flex gap-2">{actions}</div>
      </div>
      {children}
    </section>
  );
}

export function StatCard({ label, value, hint }: { label: string; value: ReactNode; hint?: ReactNode }) {
  return (
    <div className="card">
      <div className="text-xs font-medium tracking-wide text-slate-500 uppercase">{label}</div>
      <div className="mt-1 text-2xl font-semibold tabular-nums">{value}</div>
      {hint && <div className="mt-1 text-xs text-slate-500">{hint}</div>}
    </div>
  );
}

export function SeverityBadge({ severity }: { severity: number }) {
  const info = SEVERITY[severity] ?? SEVERITY[1]!;
  return <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${info.tone}`}>{info.label}</span>;
}

/** An alert's name (its rule's) with its type as a small tag. */
export function AlertTitle({ alert }: { alert: { title: string; alert_type: string } }) {
  return (
    <>
      {alert.title}
      {alert.title !== alert.alert_type && (
        <span className="ml-2 rounded bg-slate-200 px-1 text-xs font-normal text-slate-700 dark:bg-slate-700 dark:text-slate-200">
          {alert.alert_type}
        </span>
      )}
    </>
  );
}

const TONE = {
  good: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200',
  bad: 'bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200',
  waiting: 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200',
  busy: 'bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-200',
};
const STATUS_TONE: Record<string, string> = {
  ONLINE: TONE.good,
  OFFLINE: TONE.bad,
  OPEN: TONE.bad,
  STALE: TONE.waiting,
  ACKNOWLEDGED: TONE.waiting,
  ACTIVE: TONE.good,
  COMPLETED: TONE.good,
  SENT: TONE.good,
  FAILED: TONE.bad,
  PENDING: TONE.waiting,
  // Commands and fleet jobs.
  QUEUED: TONE.waiting,
  DELIVERED: TONE.busy,
  IN_PROGRESS: TONE.busy,
  RUNNING: TONE.busy,
  SUCCEEDED: TONE.good,
  EXPIRED: TONE.bad,
  TIMED_OUT: TONE.bad,
  ABORTED: TONE.bad,
};

/** A device status as one colour where a badge does not fit (map markers): the badges' hues, REVOKED grey. */
export const DEVICE_STATUS_COLOR: Record<string, string> = {
  ONLINE: '#10b981',
  STALE: '#f59e0b',
  OFFLINE: '#f43f5e',
  REVOKED: '#64748b',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span
      className={`rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_TONE[status] ?? 'bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300'}`}
    >
      {status}
    </span>
  );
}

export function Skeleton({ rows = 3 }: { rows?: number }) {
  return (
    <div className="space-y-2" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="h-6 animate-pulse rounded bg-slate-200 dark:bg-slate-800" />
      ))}
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div
      role="alert"
      className="rounded-lg border border-rose-300 bg-rose-50 p-3 text-sm text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-200"
    >
      {(error as Error)?.message ?? 'Something went wrong'}
      {retry && (
        <button className="btn-ghost ml-3" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 p-6 text-center text-sm text-slate-500 dark:border-slate-700">
      {children}
    </div>
  );
}

/** Loading / error / content for a TanStack query. */
export function Loaded<T>({
  query,
  children,
  rows,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  children: (data: T) => ReactNode;
  rows?: number;
}) {
  if (query.isPending) return <Skeleton rows={rows} />;
  if (query.error) return <ErrorBox error={query.error} retry={() => void query.refetch()} />;
  return <>{children(query.data as T)}</>;
}

export function Modal({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      onClose={onClose}
      aria-label={title}
      className="m-auto w-[min(40rem,95vw)] rounded-xl border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-slate-950/50 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <div className="flex items-center justify-between border-b border-slate-200 px-4 py-3 dark:border-slate-800">
        <h2 className="font-semibold">{title}</h2>
        <button className="btn-ghost" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div className="max-h-[75vh] overflow-y-auto p-4">{open && children}</div>
    </dialog>
  );
}

/** A device id linking to the device's page. */
/** A device id linking to its page: the customer's, or with `tenantId` the operator's. */
export function DeviceLink({ deviceId, tenantId }: { deviceId: string; tenantId?: string }) {
  const to = tenantId
    ? `/operator/tenants/${encodeURIComponent(tenantId)}/devices/${encodeURIComponent(deviceId)}`
    : `/devices/${encodeURIComponent(deviceId)}`;
  return (
    <Link className="text-indigo-600 hover:underline" to={to}>
      {deviceId}
    </Link>
  );
}

/** Tenant and device of a rejected message, as links where the message named them. */
export function QuarantinedFrom({ tenantId, deviceId }: { tenantId: string | null; deviceId: string | null }) {
  return (
    <span>
      {tenantId ? <TenantLink tenantId={tenantId} /> : '—'} /{' '}
      {tenantId && deviceId ? <DeviceLink deviceId={deviceId} tenantId={tenantId} /> : (deviceId ?? '—')}
    </span>
  );
}

/** A tenant id linking to the operator's tenant page. */
export function TenantLink({ tenantId }: { tenantId: string }) {
  return (
    <Link className="text-indigo-600 hover:underline" to={`/operator/tenants/${encodeURIComponent(tenantId)}`}>
      {tenantId}
    </Link>
  );
}

/** How an audited request ended: ok, or refused with its HTTP status. */
export function Outcome({ status }: { status: number | null }) {
  if (status === null) return <>—</>;
  return status < 400 ? (
    <span className="text-emerald-600">ok</span>
  ) : (
    <span className="text-rose-600">refused ({status})</span>
  );
}

/** Copies `text` to the clipboard, saying so for a moment; `label` names what it copies. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn-ghost text-xs"
      aria-label={`Copy ${label}`}
      onClick={() =>
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        })
      }
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/** The Edit and Delete buttons of an administrator's table row; Delete asks first. */
export function EditDeleteButtons({
  onEdit,
  onDelete,
  confirmText,
}: {
  onEdit: () => void;
  onDelete: () => void;
  confirmText: string;
}) {
  return (
    <>
      <button className="btn-ghost" onClick={onEdit}>
        Edit
      </button>
      <button className="btn-ghost" onClick={() => confirm(confirmText) && onDelete()}>
        Delete
      </button>
    </>
  );
}

export function Field({ label, children, hint }: { label: string; children: ReactNode; hint?: string }) {
  return (
    <label className="block">
      <span className="label">{label}</span>
      {children}
      {hint && <span className="mt-1 block text-xs text-slate-500">{hint}</span>}
    </label>
  );
}

/** "1–50 of 812" with Previous / Next for server-side paging. */
export function Pager({
  page,
  size,
  total,
  onPage,
  noun,
}: {
  page: number;
  size: number;
  total: number;
  onPage: (page: number) => void;
  noun: string;
}) {
  return (
    <div className="mt-3 flex items-center justify-between text-sm">
      <span>
        {total === 0 ? 0 : page * size + 1}–{Math.min(total, (page + 1) * size)} of {total} {noun}
      </span>
      <div className="flex gap-2">
        <button className="btn-ghost" disabled={page === 0} onClick={() => onPage(page - 1)}>
          Previous
        </button>
        <button className="btn-ghost" disabled={(page + 1) * size >= total} onClick={() => onPage(page + 1)}>
          Next
        </button>
      </div>
    </div>
  );
}

/** A button that runs `save` (a `download` of an export), saying why when it cannot. */
export function DownloadButton({ save, label, title }: { save: () => Promise<void>; label: string; title?: string }) {
  const [state, setState] = useState<{ busy: boolean; error?: string }>({ busy: false });
  return (
    <span className="inline-flex items-center gap-2">
      <button
        className="btn-ghost whitespace-nowrap"
        disabled={state.busy}
        title={title}
        onClick={() => {
          setState({ busy: true });
          save().then(
            () => setState({ busy: false }),
            (error: unknown) => setState({ busy: false, error: (error as Error).message }),
          );
        }}
      >
        {state.busy ? 'Preparing…' : label}
      </button>
      {state.error && (
        <span role="alert" className="text-xs text-rose-600">
          {state.error}
        </span>
      )}
    </span>
  );
}

/** A row of checkboxes under one legend, all named `name` (a form reads them with getAll). */
export function Checkboxes({
  legend,
  name,
  values,
  checked = [],
}: {
  legend: string;
  name: string;
  values: readonly string[];
  checked?: readonly string[];
}) {
  return (
    <fieldset className="text-sm">
      <legend className="label">{legend}</legend>
      {values.map((value) => (
        <label key={value} className="mr-3">
          <input type="checkbox" name={name} value={value} defaultChecked={checked.includes(value)} /> {value}
        </label>
      ))}
    </fieldset>
  );
}
