// Alert readers (issue 16): a customer admin gives its own MQTT clients a login that may subscribe to
// alerts/<tenant>/# on Pulse's broker — where the tenant's MQTT integrations publish — and nothing else;
// no other client may read those topics. The password is shown once. On Mosquitto with dynsec the login
// is created there too; a removed reader is put out at once.
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { Bus } from '../../bus/index.js';
import { readerUsername, type ManagedLogins } from '../../broker/dynsec.js';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { sha256Hex } from '../../lib/credentials.js';
import { NoContent, Nullable, Obj, Timestamp } from '../../lib/schema.js';
import * as readers from '../../model/mqtt-readers.js';
import { displayName } from '../auth.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';

const tags = ['customer/mqtt-readers'];
const NAME = '^[A-Za-z0-9_-]{1,64}$';
const ReaderParams = Type.Object({ name: Type.String({ minLength: 1 }) });
const Reader = Obj({
  name: Type.String(),
  username: Type.String({ description: 'log in to the broker with this' }),
  client_id: Type.String({ description: 'connect with this client id (the only one Mosquitto lets it use)' }),
  topic_filter: Type.String({ description: 'what it may subscribe to' }),
  created_at: Timestamp,
  created_by: Nullable(Type.String()),
});

export interface MqttReaderDeps {
  inTenant: InTenant;
  bus: Bus;
  logins: ManagedLogins;
  /** The broker devices and readers connect to (MQTT_URL without credentials, or the embedded one). */
  mqttUrl: string | undefined;
}

export function registerMqttReaderRoutes(app: App, deps: MqttReaderDeps): void {
  const { inTenant } = deps;
  const view = (tenantId: string, reader: readers.MqttReader) => ({
    ...reader,
    username: readerUsername(tenantId, reader.name),
    client_id: readerUsername(tenantId, reader.name),
    topic_filter: `alerts/${tenantId}/#`,
  });

  app.get(
    '/customer/mqtt-readers',
    {
      schema: {
        tags,
        summary: "The tenant's alert readers: MQTT logins that may subscribe to its alerts/<tenant>/# topics",
        response: { 200: Obj({ mqtt_url: Nullable(Type.String()), readers: Type.Array(Reader) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        mqtt_url: deps.mqttUrl ?? null,
        readers: (await readers.listReaders(tx)).map((reader) => view(tx.tenantId, reader)),
      })),
  );

  app.post(
    '/customer/mqtt-readers',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Create an alert reader; its password is in the answer, once',
        body: Type.Object(
          { name: Type.String({ pattern: NAME, description: 'letters, digits, _ and -; at most 64' }) },
          { additionalProperties: false },
        ),
        response: { 201: Obj({ ...Reader.properties, password: Type.String(), mqtt_url: Nullable(Type.String()) }) },
      },
    },
    async (request, reply) => {
      const { name } = request.body;
      const password = `rdr-${randomBytes(24).toString('base64url')}`;
      const created = await inTenant(request, async (tx) => {
        const reader = await readers.addReader(tx, {
          name,
          passwordHash: sha256Hex(password),
          createdBy: displayName(principalOf(request)),
        });
        if (!reader)
          throw new AppError('CONFLICT', `An alert reader named ${name} exists; remove it or pick another name`);
        // Last in the transaction: if the broker refuses the login, no reader is kept (as device tokens).
        await deps.logins.setReader(tx.tenantId, name, password);
        return view(tx.tenantId, reader);
      });
      return reply.status(201).send({ ...created, password, mqtt_url: deps.mqttUrl ?? null });
    },
  );

  app.delete(
    '/customer/mqtt-readers/:name',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Remove an alert reader: its login is refused and its connections closed',
        params: ReaderParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const tenantId = await inTenant(request, async (tx) => {
        if (!(await readers.removeReader(tx, name))) throw new AppError('NOT_FOUND', 'Alert reader not found');
        await deps.logins.removeReader(tx.tenantId, name);
        return tx.tenantId;
      });
      deps.bus.publish('reader.removed', { tenant_id: tenantId, name });
      return reply.status(204).send(null);
    },
  );
}
