// What the type check refuses (`npm run typecheck` checks this file; nothing runs it): a call whose path,
// parameters, body or answer does not fit the API, and a live message or a role the server does not know.
// Each `@ts-expect-error` fails the check when the line under it compiles.
import { api, unwrap } from '../src/lib/api';
import type { Answer, LiveFrame, LiveRequest, Role } from '../src/lib/types';

export async function refusedByTheTypeCheck() {
  // @ts-expect-error a path the API does not have
  await api.GET('/customer/alertz', {});

  // @ts-expect-error the answer of one path taken for another's
  const alerts: Answer<'/customer/alerts'> = await unwrap(api.GET('/customer/integrations'));

  // @ts-expect-error a path parameter left out
  await api.GET('/customer/alerts/{alert_id}', { params: { path: {} } });

  // @ts-expect-error a path parameter of the wrong type
  await api.GET('/customer/alerts/{alert_id}', { params: { path: { alert_id: 'seven' } } });

  // @ts-expect-error a query parameter the route does not take
  await api.GET('/customer/alerts', { params: { query: { colour: 'red' } } });

  // @ts-expect-error a body field of the wrong type
  await api.POST('/customer/mqtt-readers', { body: { name: 7 } });

  // @ts-expect-error a body without a field the route requires
  await api.POST('/customer/alerts/bulk', { body: { action: 'close' } });

  // @ts-expect-error a method the path does not answer
  await api.PUT('/customer/alerts', {});

  // @ts-expect-error a live request the server does not take
  const request: LiveRequest = { action: 'subscribe', type: 'everything' };

  // @ts-expect-error a live frame field the server does not send
  const frame: LiveFrame = { type: 'alert', event: 'OPENED', alert: alerts.alerts[0]!, extra: 1 };

  // @ts-expect-error a role Pulse does not have
  const role: Role = 'superuser';

  return [request, frame, role];
}

export async function acceptedByTheTypeCheck() {
  const alerts: Answer<'/customer/alerts'> = await unwrap(
    api.GET('/customer/alerts', { params: { query: { status: 'OPEN', limit: 10 } } }),
  );
  const request: LiveRequest = { action: 'subscribe', type: 'device', device_id: 'd1' };
  const role: Role = 'customer_viewer';
  return [alerts, request, role];
}
