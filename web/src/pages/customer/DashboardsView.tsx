// One dashboard (issue 32): its widgets on the grid with one range, its variables and refresh in the URL, and
// live mode. A customer admin edits it in place (add, change, move, resize, remove widgets; name and
// variables), then saves; exports, duplicates, deletes it and gives out share links. Kiosk mode
// (/kiosk/dashboards/…) shows the board alone, dark, for a wall screen.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { DashboardBoard } from '../../components/widgets/DashboardBoard';
import {
  DashboardToolbar,
  useDashboardData,
  useDashboardState,
  type LiveSource,
} from '../../components/widgets/DashboardToolbar';
import { WidgetEditor } from '../../components/widgets/WidgetEditor';
import { CopyButton, ErrorBox, Field, Loaded, Modal, Page } from '../../components/ui';
import { api, download, unwrap } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import {
  newWidgetId,
  prefetchDashboardData,
  WIDGET_TEMPLATES,
  type DataFetch,
  WIDGET_TYPE_NAMES,
  type DashboardDocument,
  type DashboardView,
  type Widget,
  type WidgetType,
} from '../../lib/dashboards';
import { dateTime } from '../../lib/format';
import { subscribeDashboard } from '../../lib/live';

/**
 * Live mode for a signed-in user: the live socket's dashboard channel, which says when what the saved
 * dashboard shows may have changed (its devices', the fleet's telemetry, alerts).
 */
function liveSocket(dashboardId: string, device: string | undefined): LiveSource {
  return {
    key: `${dashboardId}\u0000${device ?? ''}`,
    follow: (again) => subscribeDashboard(dashboardId, device, again),
  };
}

function Shares({ dashboardId }: { dashboardId: string }) {
  const client = useQueryClient();
  const key = ['dashboard-shares', dashboardId];
  const shares = useQuery({
    queryKey: key,
    queryFn: () =>
      unwrap(
        api.GET('/customer/dashboards/{dashboard_id}/shares', { params: { path: { dashboard_id: dashboardId } } }),
      ),
  });
  const create = useMutation({
    mutationFn: (hours: number) =>
      unwrap(
        api.POST('/customer/dashboards/{dashboard_id}/shares', {
          params: { path: { dashboard_id: dashboardId } },
          body: { expires_in_hours: hours },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: key }),
  });
  const revoke = useMutation({
    mutationFn: (shareId: string) =>
      unwrap(
        api.DELETE('/customer/dashboards/{dashboard_id}/shares/{share_id}', {
          params: { path: { dashboard_id: dashboardId, share_id: shareId } },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: key }),
  });
  const link = create.data && `${window.location.origin}${create.data.path}`;
  return (
    <div className="space-y-3 text-sm">
      <p>A share link shows this dashboard, read only, to anyone who has it — and nothing else of your fleet.</p>
      <form
        className="flex items-end gap-2"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate(Number(new FormData(event.currentTarget).get('hours')));
        }}
      >
        <Field label="Valid for">
          <select name="hours" className="input" defaultValue="168">
            <option value="24">1 day</option>
            <option value="168">7 days</option>
            <option value="720">30 days</option>
            <option value="8760">1 year</option>
          </select>
        </Field>
        <button className="btn-primary">Create link</button>
      </form>
      {link && (
        <p className="flex items-center gap-2 break-all" data-testid="share-link">
          <a className="text-indigo-600 hover:underline" href={link} target="_blank" rel="noreferrer">
            {link}
          </a>
          <CopyButton text={link} label="link" />
        </p>
      )}
      {create.error && <ErrorBox error={create.error} />}
      <Loaded query={shares}>
        {({ shares: list }) => (
          <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="share-list">
            {list.map((share) => (
              <li key={share.share_id} className="flex items-center gap-2 py-1">
                <span>
                  made {dateTime(share.created_at)},{' '}
                  {share.revoked_at ? 'revoked' : `until ${dateTime(share.expires_at)}`}
                </span>
                {!share.revoked_at && (
                  <button className="btn-ghost ml-auto text-rose-600" onClick={() => revoke.mutate(share.share_id)}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </div>
  );
}

/** A dashboard's data call: for its saved widgets, or for those of a `draft` being edited (and its variables). */
const dataOf =
  (dashboardId: string, draft?: DashboardDocument | null): DataFetch =>
  (body) =>
    unwrap(
      api.POST('/customer/dashboards/{dashboard_id}/data', {
        params: { path: { dashboard_id: dashboardId } },
        body: { ...body, ...(draft && { widgets: draft.widgets, declared_variables: draft.variables }) },
      }),
    );

function DashboardPage({ view, kiosk }: { view: DashboardView; kiosk: boolean }) {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const [draft, setDraft] = useState<DashboardDocument | null>(null);
  const [editingWidget, setEditingWidget] = useState<Widget | null>(null);
  const [sharing, setSharing] = useState(false);
  const definition = draft ?? view.definition;
  const state = useDashboardState(view.definition);
  const id = view.dashboard_id;
  const path = { dashboard_id: id };
  const data = useDashboardData(
    // A widget moved reads the same data: its place is not part of the key, its width (its points) is.
    [
      id,
      draft
        ? JSON.stringify([draft.variables, draft.widgets.map(({ layout, ...widget }) => ({ ...widget, w: layout.w }))])
        : 'saved',
    ],
    state,
    dataOf(id, draft),
    liveSocket(id, state.variables.device),
  );
  const done = (answer: DashboardView) => {
    client.setQueryData(['dashboard', answer.dashboard_id], answer);
    void client.invalidateQueries({ queryKey: ['dashboards'] });
    // The saved data was read for the saved widgets and range: read again when shown (not the draft's now).
    void client.invalidateQueries({ queryKey: ['dashboard-data', answer.dashboard_id], refetchType: 'none' });
  };
  const save = useMutation({
    mutationFn: (document: DashboardDocument) =>
      unwrap(api.PUT('/customer/dashboards/{dashboard_id}', { params: { path }, body: document })),
    onSuccess: (answer) => {
      done(answer);
      setDraft(null);
    },
  });
  const duplicate = useMutation({
    mutationFn: () => unwrap(api.POST('/customer/dashboards/{dashboard_id}/duplicate', { params: { path } })),
    onSuccess: (answer) => {
      done(answer);
      void navigate(`/dashboards/${answer.dashboard_id}`);
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/customer/dashboards/{dashboard_id}', { params: { path } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['dashboards'] });
      void navigate('/dashboards');
    },
  });
  const exportJson = useMutation({
    mutationFn: () =>
      download(api.GET('/customer/dashboards/{dashboard_id}/export', { params: { path }, parseAs: 'blob' })),
  });
  const change = (widgets: Widget[]) => setDraft({ ...definition, widgets });
  const addWidget = (type: WidgetType) => {
    const template = WIDGET_TEMPLATES[type];
    const bottom = Math.max(0, ...definition.widgets.map((w) => w.layout.y + w.layout.h));
    setEditingWidget({
      id: newWidgetId(definition.widgets),
      type,
      title: template.title,
      layout: { x: 0, y: bottom, w: template.w, h: template.h },
      options: template.options,
    } as Widget);
  };
  const board = (
    <DashboardBoard
      widgets={definition.widgets}
      data={data.data}
      fetching={data.isFetching}
      editing={draft !== null}
      onLayout={(layout) => {
        const moved = definition.widgets.map((widget) => {
          const place = layout.find((item) => item.i === widget.id);
          return place ? { ...widget, layout: { x: place.x, y: place.y, w: place.w, h: place.h } } : widget;
        });
        // The grid tells its layout after every render too: only a real change is one.
        if (JSON.stringify(moved) !== JSON.stringify(definition.widgets)) change(moved);
      }}
      onEdit={setEditingWidget}
      onRemove={(widget) => change(definition.widgets.filter((w) => w.id !== widget.id))}
    />
  );
  const toolbar = <DashboardToolbar state={state} declared={definition.variables} choices={view.choices} />;
  const failure = (save.error ?? duplicate.error ?? remove.error ?? exportJson.error ?? data.error) as Error | null;
  if (kiosk)
    return (
      <div className="min-h-screen space-y-3 bg-slate-950 p-3 text-slate-100" data-testid="kiosk">
        <div className="flex flex-wrap items-end justify-between gap-2">
          <h1 className="text-xl font-semibold">{definition.name}</h1>
          {toolbar}
          <button className="btn-ghost" onClick={() => void document.documentElement.requestFullscreen?.()}>
            Full screen
          </button>
        </div>
        {failure && <ErrorBox error={failure} />}
        {board}
      </div>
    );
  const editable = admin && !view.built_in;
  return (
    <Page
      title={definition.name}
      actions={
        draft ? (
          <>
            <select
              className="input"
              aria-label="Add widget"
              value=""
              onChange={(event) => event.target.value && addWidget(event.target.value as WidgetType)}
            >
              <option value="">Add widget…</option>
              {(Object.keys(WIDGET_TYPE_NAMES) as WidgetType[]).map((type) => (
                <option key={type} value={type}>
                  {WIDGET_TYPE_NAMES[type]}
                </option>
              ))}
            </select>
            <button className="btn-primary" onClick={() => save.mutate(draft)} disabled={save.isPending}>
              Save
            </button>
            <button className="btn-ghost" onClick={() => setDraft(null)}>
              Cancel
            </button>
          </>
        ) : (
          <>
            {editable && (
              <button className="btn-primary" onClick={() => setDraft(view.definition)}>
                Edit
              </button>
            )}
            {admin && (
              <button className="btn-ghost" onClick={() => duplicate.mutate()}>
                {view.built_in ? 'Save as my dashboard' : 'Duplicate'}
              </button>
            )}
            <button className="btn-ghost" onClick={() => exportJson.mutate()}>
              Export
            </button>
            <Link className="btn-ghost" to={`/kiosk/dashboards/${id}${location.search}`}>
              Kiosk
            </Link>
            {editable && (
              <button className="btn-ghost" onClick={() => setSharing(true)}>
                Share
              </button>
            )}
            {editable && (
              <button
                className="btn-ghost text-rose-600"
                onClick={() => window.confirm(`Delete the dashboard ${definition.name}?`) && remove.mutate()}
              >
                Delete
              </button>
            )}
          </>
        )
      }
    >
      {draft && (
        <div className="card flex flex-wrap items-end gap-3 text-sm" data-testid="dashboard-settings">
          <Field label="Name">
            <input
              className="input"
              aria-label="Dashboard name"
              value={draft.name}
              onChange={(event) => setDraft({ ...draft, name: event.target.value })}
            />
          </Field>
          <fieldset className="flex items-center gap-3">
            <legend className="text-xs text-slate-500">Variables</legend>
            {(['site', 'tag', 'device'] as const).map((kind) => (
              <label key={kind} className="flex items-center gap-1">
                <input
                  type="checkbox"
                  aria-label={`Variable ${kind} on`}
                  checked={draft.variables.includes(kind)}
                  onChange={(event) =>
                    setDraft({
                      ...draft,
                      variables: event.target.checked
                        ? [...draft.variables, kind]
                        : draft.variables.filter((v) => v !== kind),
                    })
                  }
                />
                {kind}
              </label>
            ))}
          </fieldset>
        </div>
      )}
      {toolbar}
      {failure && <ErrorBox error={failure} />}
      {board}
      <Modal open={editingWidget !== null} title="Widget" onClose={() => setEditingWidget(null)}>
        {editingWidget && (
          <WidgetEditor
            widget={editingWidget}
            document={definition}
            onCancel={() => setEditingWidget(null)}
            onDone={(widget) => {
              const exists = definition.widgets.some((w) => w.id === widget.id);
              change(
                exists
                  ? definition.widgets.map((w) => (w.id === widget.id ? widget : w))
                  : [...definition.widgets, widget],
              );
              setEditingWidget(null);
            }}
          />
        )}
      </Modal>
      <Modal open={sharing} title="Share links" onClose={() => setSharing(false)}>
        <Shares dashboardId={id} />
      </Modal>
    </Page>
  );
}

/** The page at /dashboards/:dashboardId, or at /kiosk/dashboards/:dashboardId with `kiosk`. */
export default function DashboardsView({ kiosk = false }: { kiosk?: boolean }) {
  const { dashboardId = 'default' } = useParams();
  // Kiosk is dark whatever the theme chosen: set before the charts draw (they pick their theme then).
  useLayoutEffect(() => {
    if (!kiosk) return;
    const root = document.documentElement;
    const wasDark = root.classList.contains('dark');
    root.classList.add('dark');
    return () => void root.classList.toggle('dark', wasDark);
  }, [kiosk]);
  const view = useQuery({
    queryKey: ['dashboard', dashboardId],
    queryFn: () =>
      unwrap(api.GET('/customer/dashboards/{dashboard_id}', { params: { path: { dashboard_id: dashboardId } } })),
  });
  // Its data is asked for beside it, not after it, once as it opens: the page's own query takes over.
  const client = useQueryClient();
  useEffect(
    () =>
      prefetchDashboardData(
        client,
        [dashboardId, 'saved'],
        new URLSearchParams(window.location.search),
        dataOf(dashboardId),
      ),
    [client, dashboardId],
  );
  return (
    <Loaded query={view}>{(answer) => <DashboardPage key={answer.dashboard_id} view={answer} kiosk={kiosk} />}</Loaded>
  );
}
