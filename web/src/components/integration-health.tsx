// Whether integrations' notifications get through (issue 29 item 4): a badge per integration, and a card
// naming the failing ones that shows only while there are any (customer dashboard, operator overview).
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { api, unwrap } from '../lib/api';
import { timeAgo } from '../lib/format';
import type { Answer } from '../lib/types';
import { TenantLink } from './ui';

type Health = Answer<'/customer/integrations'>['integrations'][number]['health'];

const TONE: Record<Health['state'], string> = {
  healthy: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200',
  failing: 'bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200',
  unknown: 'bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300',
};

/** What the badge's tooltip says: the last success and the last failure with its error. */
const explain = (health: Health) =>
  [
    health.last_success_at ? `last success ${timeAgo(health.last_success_at)}` : 'no success yet',
    health.last_failure_at && `last failure ${timeAgo(health.last_failure_at)}: ${health.last_error ?? ''}`,
    health.consecutive_failures > 0 && `${health.consecutive_failures} failed in a row`,
  ]
    .filter(Boolean)
    .join('; ');

export function HealthBadge({ health }: { health: Health }) {
  return (
    <span
      className={`rounded-full px-2 py-0.5 text-xs font-medium ${TONE[health.state]}`}
      title={explain(health)}
      data-testid="integration-health"
    >
      {health.state}
    </span>
  );
}

type Failing = { integration_id: string; name: string; health: Health; tenant_id: string };

function FailingCard({ failing, tenantShown }: { failing: Failing[]; tenantShown: boolean }): ReactNode {
  if (failing.length === 0) return null;
  return (
    <div className="card border-rose-300 dark:border-rose-800" role="region" aria-label="Failing integrations">
      <h2 className="mb-2 text-sm font-semibold">
        {failing.length === 1 ? '1 integration is failing' : `${failing.length} integrations are failing`}: their
        notifications are not getting through
      </h2>
      <ul className="space-y-1 text-sm">
        {failing.map((integration) => (
          <li key={integration.integration_id} className="flex items-center gap-2">
            <HealthBadge health={integration.health} />
            {tenantShown && <TenantLink tenantId={integration.tenant_id} />}
            <span className="font-medium">{integration.name}</span>
            <span
              className="min-w-0 flex-1 truncate text-xs text-slate-500"
              title={integration.health.last_error ?? ''}
            >
              {integration.health.last_error}
            </span>
            {integration.health.last_failure_at && (
              <span className="shrink-0 text-xs whitespace-nowrap text-slate-500">
                {timeAgo(integration.health.last_failure_at)}
              </span>
            )}
          </li>
        ))}
      </ul>
      {!tenantShown && (
        <Link className="mt-2 inline-block text-sm text-indigo-600 hover:underline" to="/integrations">
          Integrations →
        </Link>
      )}
    </div>
  );
}

/** The tenant's failing integrations (the list the Integrations page shows, polled gently). */
export function FailingIntegrations() {
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => unwrap(api.GET('/customer/integrations')),
    refetchInterval: 60_000,
  });
  const failing = (integrations.data?.integrations ?? []).filter((i) => i.health.state === 'failing');
  return <FailingCard failing={failing} tenantShown={false} />;
}

/** Every tenant's failing integrations (operators). */
export function FleetFailingIntegrations() {
  const integrations = useQuery({
    queryKey: ['op-integrations', 'failing'],
    queryFn: () => unwrap(api.GET('/operator/integrations', { params: { query: { state: 'failing' } } })),
    refetchInterval: 60_000,
  });
  return <FailingCard failing={integrations.data?.integrations ?? []} tenantShown />;
}
