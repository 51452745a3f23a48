// Device management in the web app (issue 19), for customer_admin in its own tenant (under /customer,
// row-level security) and operator_admin in any tenant (under /operator/tenants/{tenant_id}, audited):
// register one device or a CSV of them (each gets a one-time activation code, with the settings to paste
// into the device), change its site, firmware, metadata, tags or attributes, rotate its token, revoke it.
// Every ingest instance hears of a change after it committed.
import { Type, type TString } from '@sinclair/typebox';
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Bus } from '../bus/index.js';
import { narrow, type TenantScope } from '../db/database.js';
import { AppError, requireChanges } from '../errors.js';
import type { App } from '../http/server.js';
import { Nullable, Obj } from '../lib/schema.js';
import * as registry from '../model/device-registry.js';
import { bulkRecords, checkBulk, ID_PATTERN, requireLabels, type RowError } from '../model/device-spec.js';
import { AttributesInput, TagsInput } from '../model/device-tags.js';
import { issueDevices, rotateToken, type BrokerPasswords, type IssuedDevice } from '../model/provisioning.js';
import * as tenants from '../model/tenants.js';
import { BulkRowError, RegisteredDevice } from '../model/views.js';
import { customerAdminOnly, tenantOf, type InTenant } from './guard.js';
import type { Audited } from './operator/audit.js';
import { countOf, deviceChangeSummary, labelsSummary, noteAudit } from './audit-note.js';

const BULK_BODY_LIMIT = 16 * 1024 * 1024;

/** Whose devices a set of these routes manages, and how it reaches them. */
export interface DeviceScope {
  /** Where the routes are: `/customer/devices`, `/operator/tenants/:tenant_id/devices`. */
  prefix: string;
  tags: string[];
  /** Path parameters before the device's own (the operator's tenant_id). */
  pathParams: Record<string, TString>;
  preHandler?: preHandlerAsyncHookHandler;
  tenantOf(request: FastifyRequest): string;
  /** Runs `fn` in a transaction of the request's tenant; `action` names it in an audit log. */
  run<T>(request: FastifyRequest, action: string, fn: (tx: TenantScope) => Promise<T>): Promise<T>;
}

/** customer_admin, in its own tenant, under row-level security. */
export const customerDevices = (inTenant: InTenant): DeviceScope => ({
  prefix: '/customer/devices',
  tags: ['customer/devices'],
  pathParams: {},
  preHandler: customerAdminOnly,
  tenantOf,
  run: (request, _action, fn) => inTenant(request, fn),
});

/** operator_admin, in the tenant the path names; every request audited. */
export const operatorDevices = (audited: Audited): DeviceScope => {
  const tenantIn = (request: FastifyRequest) => (request.params as { tenant_id: string }).tenant_id;
  return {
    prefix: '/operator/tenants/:tenant_id/devices',
    tags: ['operator'],
    pathParams: { tenant_id: Type.String({ minLength: 1 }) },
    tenantOf: tenantIn,
    run: (request, action, fn) => {
      const tenantId = tenantIn(request);
      const deviceId = (request.params as { device_id?: string }).device_id;
      return audited(
        request,
        { action, tenantFilter: tenantId, resourceType: 'device', resourceId: deviceId, admin: true },
        (tx) => fn(narrow(tx, tenantId)),
      );
    },
  };
};
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'any JSON object' });
const CreateDevice = Type.Object(
  {
    device_id: Type.String({ pattern: ID_PATTERN }),
    site_id: Type.String({ minLength: 1, maxLength: 200 }),
    fw_version: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    metadata: Type.Optional(Metadata),
    tags: Type.Optional(TagsInput('the tags')),
    attributes: Type.Optional(AttributesInput('the attributes')),
    replace: Type.Optional(
      Type.Boolean({
        description:
          'true: re-register a device that exists (new activation code, this site; metadata, tags and attributes kept unless given). Otherwise an existing id answers 409.',
      }),
    ),
  },
  { additionalProperties: false },
);
const RevokeDevices = Type.Object(
  { device_ids: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true }) },
  { additionalProperties: false },
);
const ChangeDevice = Type.Object(
  {
    site_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    fw_version: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    metadata: Type.Optional(Metadata),
    tags: Type.Optional(TagsInput("replaces the device's tags")),
    add_tags: Type.Optional(TagsInput('tags to add, after tags')),
    remove_tags: Type.Optional(TagsInput('tags to remove, after tags and add_tags')),
    attributes: Type.Optional(AttributesInput("replaces the device's attributes")),
  },
  { additionalProperties: false },
);

/** Where and how a device connects: what the web app shows next to a new activation code. */
const Connection = Obj({
  activate_url: Type.String(),
  mqtt_url: Nullable(Type.String()),
  mqtt_username: Type.String({ description: 'log in with the provision token as password' }),
  mqtt_client_id: Type.String({ description: 'connect with this client id (the only one Mosquitto lets it use)' }),
  mqtt_topic: Type.String({ description: 'publish telemetry here; heartbeat under …/heartbeat' }),
  http_url: Type.String({ description: 'POST telemetry here with X-Provision-Token' }),
});
const Issued = Obj({ ...RegisteredDevice.properties, created: Type.Boolean(), connection: Connection });

export interface DeviceRouteDeps {
  bus: Bus;
  /** Where a rotated token becomes the device's broker password. */
  logins: BrokerPasswords;
  activationTtlMinutes: number;
  /** The broker devices connect to (MQTT_URL or the embedded one's). */
  mqttUrl: string | undefined;
  /** PUBLIC_URL, when set; else the address the request came to. */
  publicUrl: string | undefined;
}

export function registerDeviceRoutes(app: App, scope: DeviceScope, deps: DeviceRouteDeps): void {
  const { bus } = deps;
  const { prefix, tags, preHandler } = scope;
  const TenantParams = Type.Object(scope.pathParams);
  const DeviceParams = Type.Object({ ...scope.pathParams, device_id: Type.String({ minLength: 1 }) });
  const baseUrl = (request: FastifyRequest) =>
    deps.publicUrl?.replace(/\/$/, '') ?? `${request.protocol}://${request.host}`;
  const withConnection = (request: FastifyRequest, device: IssuedDevice) => {
    const { row: _row, ...issued } = device;
    const base = baseUrl(request);
    const path = `tenant/${encodeURIComponent(device.tenant_id)}/device/${encodeURIComponent(device.device_id)}`;
    return {
      ...issued,
      connection: {
        activate_url: `${base}/api/device/activate`,
        mqtt_url: deps.mqttUrl ?? null,
        mqtt_username: `${device.tenant_id}/${device.device_id}`,
        mqtt_client_id: `${device.tenant_id}/${device.device_id}`,
        mqtt_topic: `tenant/${device.tenant_id}/device/${device.device_id}/telemetry`,
        http_url: `${base}/ingest/v1/${path}/telemetry`,
      },
    };
  };
  /** Devices join ACTIVE tenants only (as the admin API's). */
  const issue = async (tx: TenantScope, specs: Parameters<typeof issueDevices>[1]) => {
    const status = await tenants.ownStatus(tx);
    if (status !== 'ACTIVE') {
      throw new AppError(
        'CONFLICT',
        `tenant ${tx.tenantId} is ${status ?? 'not created yet'}; devices can only be added to ACTIVE tenants`,
      );
    }
    return issueDevices(tx, specs, deps.activationTtlMinutes);
  };
  /** Runs `change` in the request's tenant; after commit, every ingest instance forgets the devices. */
  const changing = async <T>(
    request: FastifyRequest,
    action: string,
    change: (tx: TenantScope) => Promise<T>,
    deviceIds: (r: T) => string[],
    labelsOnly = false,
  ) => {
    const tenantId = scope.tenantOf(request);
    const result = await scope.run(request, action, change);
    for (const device_id of deviceIds(result))
      bus.publish('device.changed', { tenant_id: tenantId, device_id, ...(labelsOnly && { labels_only: true }) });
    return result;
  };
  /** `changing` for one device: not found (inside the transaction, so an audit says 404) when `change` finds none. */
  const changingOne = <T>(
    request: FastifyRequest,
    action: string,
    deviceId: string,
    change: (tx: TenantScope) => Promise<T | false | undefined>,
    labelsOnly = false,
  ) =>
    changing(
      request,
      action,
      async (tx) => {
        const result = await change(tx);
        if (!result) throw new AppError('NOT_FOUND', 'Device not found');
        return result;
      },
      () => [deviceId],
      labelsOnly,
    );

  app.post(
    prefix,
    {
      ...(preHandler && { preHandler }),
      schema: {
        tags,
        summary: 'Register a device: its one-time activation code and how it connects are in the answer',
        params: TenantParams,
        body: CreateDevice,
        response: { 201: Issued },
      },
    },
    async (request, reply) => {
      const tenantId = scope.tenantOf(request);
      const { device_id, site_id, fw_version, metadata, replace } = request.body;
      const labels = requireLabels(request.body);
      const spec = { row: 1, tenant_id: tenantId, device_id, site_id: site_id.trim(), fw_version, metadata, ...labels };
      const [issued] = await changing(
        request,
        'create_device',
        async (tx) => {
          const devices = await issue(tx, [spec]);
          // Checked after the upsert, in its transaction, so two simultaneous adds cannot both pass; the
          // error rolls the re-registration back.
          if (!devices[0]!.created && !replace) throw deviceExists(device_id);
          noteAudit(request, {
            resourceId: device_id,
            summary: `${devices[0]!.created ? 'created' : 're-registered'} device ${device_id}${labelsSummary(labels)}`,
          });
          return devices;
        },
        (devices) => devices.map((d) => d.device_id),
      );
      return reply.status(201).send(withConnection(request, issued!));
    },
  );

  app.post(
    `${prefix}/bulk`,
    {
      ...(preHandler && { preHandler }),
      bodyLimit: BULK_BODY_LIMIT,
      schema: {
        tags,
        summary:
          'Register many devices: text/csv with a device_id,site_id[,fw_version][,tags][,attr.<key>…] header, or a JSON array',
        params: TenantParams,
        // No type for the JSON array: each row is checked by itself and a bad one is reported in `errors`.
        body: {
          content: {
            'text/csv': { schema: Type.String({ description: 'a header line, then one device a line' }) },
            'application/json': { schema: { description: 'an array of devices, each as POST …/devices takes it' } },
          },
        },
        response: {
          200: Obj({
            created: Type.Integer(),
            updated: Type.Integer(),
            failed: Type.Integer(),
            devices: Type.Array(Issued),
            errors: Type.Array(BulkRowError),
          }),
        },
      },
    },
    async (request) => {
      const tenantId = scope.tenantOf(request);
      // Rows need not name the tenant; one that does (a file exported elsewhere) must name the caller's.
      const checked = checkBulk(bulkRecords(request.body, { tenant_id: tenantId }));
      const errors: RowError[] = [...checked.errors];
      const mine = checked.devices.filter((device) => {
        if (device.tenant_id === tenantId) return true;
        errors.push({ row: device.row, device_id: device.device_id, error: `tenant_id must be ${tenantId} (yours)` });
        return false;
      });
      const issued = mine.length
        ? await changing(
            request,
            'bulk_create_devices',
            async (tx) => {
              const devices = await issue(tx, mine);
              const created = devices.filter((d) => d.created).length;
              noteAudit(request, {
                summary: `imported ${countOf(devices.length, 'device')} (${created} new, ${devices.length - created} re-registered)`,
              });
              return devices;
            },
            (devices) => devices.map((d) => d.device_id),
          )
        : [];
      errors.sort((a, b) => a.row - b.row);
      return {
        created: issued.filter((d) => d.created).length,
        updated: issued.filter((d) => !d.created).length,
        failed: errors.length,
        devices: issued.map((device) => withConnection(request, device)),
        errors,
      };
    },
  );

  app.patch(
    `${prefix}/:device_id`,
    {
      ...(preHandler && { preHandler }),
      schema: {
        tags,
        summary: "Change a device's site, firmware, metadata, tags or attributes",
        params: DeviceParams,
        body: ChangeDevice,
        response: { 200: Obj({ tenant_id: Type.String(), device_id: Type.String(), status: Type.Literal('updated') }) },
      },
    },
    async (request) => {
      const changes = request.body ?? {};
      requireChanges(changes);
      const { device_id } = request.params;
      const { site_id, fw_version, metadata } = changes;
      const checked = { site_id: site_id?.trim(), fw_version, metadata, ...requireLabels(changes) };
      await changingOne(
        request,
        'update_device',
        device_id,
        async (tx) => {
          const found = await registry.updateDevice(tx, device_id, checked);
          if (found) noteAudit(request, { summary: deviceChangeSummary(device_id, checked) });
          return found;
          // Labels only: the device stays connected (its login and token are as they were).
        },
        true,
      );
      return { tenant_id: scope.tenantOf(request), device_id, status: 'updated' as const };
    },
  );

  app.post(
    `${prefix}/:device_id/rotate-token`,
    {
      ...(preHandler && { preHandler }),
      schema: {
        tags,
        summary: "Replace a device's provision token: the old one is refused at once (shown once)",
        params: DeviceParams,
        response: {
          200: Obj({ tenant_id: Type.String(), device_id: Type.String(), new_provision_token: Type.String() }),
        },
      },
    },
    async (request) => {
      const { device_id } = request.params;
      const token = await changingOne(request, 'rotate_device_token', device_id, (tx) =>
        rotateToken(tx, device_id, deps.logins),
      );
      return { tenant_id: scope.tenantOf(request), device_id, new_provision_token: token };
    },
  );

  app.post(
    `${prefix}/revoke`,
    {
      ...(preHandler && { preHandler }),
      schema: {
        tags,
        summary: 'Revoke several devices at once (ids that are not devices of the tenant are listed as not found)',
        params: TenantParams,
        body: RevokeDevices,
        response: { 200: Obj({ revoked: Type.Array(Type.String()), not_found: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      const { device_ids } = request.body;
      const revoked = await changing(
        request,
        'revoke_devices',
        async (tx) => {
          const done: string[] = [];
          for (const id of device_ids) if (await registry.revokeDevice(tx, id)) done.push(id);
          noteAudit(request, { summary: `revoked ${countOf(done.length, 'device')}` });
          return done;
        },
        (ids) => ids,
      );
      return { revoked, not_found: device_ids.filter((id) => !revoked.includes(id)) };
    },
  );

  app.post(
    `${prefix}/:device_id/revoke`,
    {
      ...(preHandler && { preHandler }),
      schema: {
        tags,
        summary: 'Revoke a device: its token is refused from now on (register it again to bring it back)',
        params: DeviceParams,
        response: { 200: Obj({ tenant_id: Type.String(), device_id: Type.String(), status: Type.Literal('revoked') }) },
      },
    },
    async (request) => {
      const { device_id } = request.params;
      await changingOne(request, 'revoke_device', device_id, async (tx) => {
        const found = await registry.revokeDevice(tx, device_id);
        if (found) noteAudit(request, { summary: `revoked device ${device_id}` });
        return found;
      });
      return { tenant_id: scope.tenantOf(request), device_id, status: 'revoked' as const };
    },
  );
}

const deviceExists = (deviceId: string) =>
  new AppError(
    'DEVICE_EXISTS',
    `Device ${deviceId} is already registered. Registering it again issues a new activation code and moves it to ` +
      'the site given (its token works until the code is used; its metadata stays unless given); send "replace": true to do so.',
    { device_id: deviceId },
  );
