// The messages of WebSocket /api/v2/ws, both ways, as TypeBox schemas. The live hub sends only frames
// LiveFrame describes (its `send` takes them; with API_CHECK_RESPONSES=on each is checked at run time too),
// /api/docs/json lists them under components, and the web app's generated types (ADR 018) name them there:
// one definition for the server, the web app and anyone writing a client.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ALERT_EVENTS } from '../contracts/messages.js';
import { Alert, Metrics, Role } from '../model/views.js';
import { Nullable, Obj, OneOf, Timestamp } from '../lib/schema.js';

const Action = OneOf(['subscribe', 'unsubscribe']);
const OperatorTenant = Type.Optional(
  Type.String({ description: 'operators: the tenant whose device or alerts (customers get their own)' }),
);

/** What a client sends. */
export const LiveRequest = Type.Union(
  [
    Obj({ action: Type.Literal('auth'), token: Type.String({ description: 'an access token (JWT)' }) }),
    Obj({ action: Action, type: Type.Literal('device'), device_id: Type.String(), tenant_id: OperatorTenant }),
    Obj({ action: Action, type: Type.Literal('alerts'), tenant_id: OperatorTenant }),
    Obj(
      {
        action: Action,
        type: Type.Literal('dashboard'),
        dashboard_id: Type.String({ description: 'a dashboard of the tenant, or `default`' }),
        device: Type.Optional(Type.String({ description: "the device variable's value, for widgets of $device" })),
        tenant_id: OperatorTenant,
      },
      { description: 'live mode of a dashboard: `changed` frames when what it shows may have changed' },
    ),
  ],
  { $id: 'LiveRequest', description: 'A message a client sends on /api/v2/ws' },
);

/** What the server sends. */
export const LiveFrame = Type.Union(
  [
    Obj({
      type: Type.Literal('authenticated'),
      role: Role,
      tenant_id: Nullable(Type.String()),
      expires_at: Timestamp,
    }),
    Obj({ type: Type.Literal('subscribed'), channel: Type.Literal('device'), device_id: Type.String() }),
    Obj({ type: Type.Literal('unsubscribed'), channel: Type.Literal('device'), device_id: Type.String() }),
    Obj({ type: Type.Literal('subscribed'), channel: Type.Literal('alerts'), tenant_id: Type.Optional(Type.String()) }),
    Obj({ type: Type.Literal('unsubscribed'), channel: Type.Literal('alerts') }),
    Obj({ type: Type.Literal('subscribed'), channel: Type.Literal('dashboard'), dashboard_id: Type.String() }),
    Obj({ type: Type.Literal('unsubscribed'), channel: Type.Literal('dashboard'), dashboard_id: Type.String() }),
    Obj(
      { type: Type.Literal('changed'), channel: Type.Literal('dashboard'), dashboard_id: Type.String() },
      {
        description:
          'what the dashboard shows may have changed (telemetry of a device it names, or of the fleet when it ' +
          'shows the fleet; an alert when it lists alerts): read its data again. At most every 10 s.',
      },
    ),
    Obj(
      { type: Type.Literal('alerts'), alerts: Type.Array(Alert) },
      { description: 'the active alerts when an alert subscription starts' },
    ),
    Obj({ type: Type.Literal('alert'), event: OneOf(ALERT_EVENTS), alert: Alert }),
    Obj({
      type: Type.Literal('telemetry'),
      device_id: Type.String(),
      data: Obj({ timestamp: Timestamp, metrics: Metrics, seq: Type.Integer() }),
    }),
    Obj({ type: Type.Literal('error'), message: Type.String(), device_id: Type.Optional(Type.String()) }),
  ],
  { $id: 'LiveFrame', description: 'A message the server sends on /api/v2/ws' },
);

export type LiveRequest = Static<typeof LiveRequest>;
export type LiveFrame = Static<typeof LiveFrame>;

/** The schemas /api/docs/json lists under components for clients to name. */
export const DOCUMENTED_SCHEMAS: TSchema[] = [LiveRequest, LiveFrame, { ...Role, $id: 'Role' }];
