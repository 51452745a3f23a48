// HTTP surface of provisioning (docs/wire-contract.md#provisioning-api): /api/admin/devices* behind
// X-Admin-Key, and the unauthenticated /api/device/activate, limited per client address on failed attempts.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { App } from '../http/server.js';
import { AppError } from '../errors.js';
import { BulkRowError, RegisteredDevice } from '../model/views.js';
import { Nullable, Obj, Timestamp } from '../lib/schema.js';
import { FailureLimit } from '../lib/rate-limit.js';
import { keysMatch } from '../lib/credentials.js';
import { bulkRecords, checkBulk, ID_PATTERN, requireLabels, type DeviceSpec } from '../model/device-spec.js';
import { AttributesInput, TagsInput } from '../model/device-tags.js';
import type { Provisioning } from './service.js';

const Id = Type.String({ pattern: ID_PATTERN });
const NonEmpty = Type.String({ minLength: 1 });

const CreateDeviceBody = Type.Object({
  tenant_id: Id,
  device_id: Id,
  site_id: NonEmpty,
  fw_version: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  tags: Type.Optional(TagsInput('the tags (kept when absent and the device exists)')),
  attributes: Type.Optional(AttributesInput('the attributes (kept when absent and the device exists)')),
});

const ListDevicesQuery = Type.Object({
  tenant_id: Type.Optional(Type.String()),
  site_id: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
});

const DevicePath = Type.Object({ tenant_id: NonEmpty, device_id: NonEmpty });

const ActivateBody = Type.Object({ tenant_id: NonEmpty, device_id: NonEmpty, activation_code: NonEmpty });

const BULK_BODY_LIMIT = 16 * 1024 * 1024;

export interface ProvisioningRouteOptions {
  provisioning: Provisioning;
  adminKey: string;
  activationFailureLimit: number;
  activationFailureWindowSeconds: number;
  /** More X-Admin-Key routes (alert delivery's admin endpoints). */
  registerMore?: (admin: App) => void;
}

export interface ProvisioningCounters {
  devices_registered: number;
  activations: number;
  activation_failures: number;
}

export function registerProvisioningRoutes(app: App, options: ProvisioningRouteOptions): ProvisioningCounters {
  const { provisioning } = options;
  const counters: ProvisioningCounters = { devices_registered: 0, activations: 0, activation_failures: 0 };
  // Failed activations and wrong admin keys, per client address.
  const failures = new FailureLimit(options.activationFailureLimit, options.activationFailureWindowSeconds);

  app.register(async (scope) => {
    const admin = scope.withTypeProvider<TypeBoxTypeProvider>();
    admin.addHook('onRequest', async (request) => {
      const provided = request.headers['x-admin-key'];
      const key = typeof provided === 'string' ? provided : undefined;
      // A request without a key is not a guess; one with a wrong key is.
      const slot = [`admin-key:${request.ip}`];
      if (key !== undefined) {
        const wait = await failures.reserve(slot);
        if (wait !== undefined)
          throw new AppError(
            'RATE_LIMITED',
            `Too many wrong admin keys from this address; retry in ${wait} s`,
            {},
            wait,
          );
      }
      if (!keysMatch(key, options.adminKey)) {
        if (key !== undefined) failures.failed(slot);
        throw new AppError('UNAUTHORIZED', 'Unauthorized (missing/invalid X-Admin-Key)');
      }
      if (key !== undefined) failures.succeeded(slot);
    });
    // text/plain is parsed as a string by fastify already; CSV is added here.
    admin.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: BULK_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    admin.post(
      '/api/admin/devices',
      {
        schema: {
          summary: 'Register a device; its one-time activation code is in the answer',
          body: CreateDeviceBody,
          response: { 200: RegisteredDevice },
        },
      },
      async (request) => {
        const { tenant_id, device_id, site_id, fw_version, metadata } = request.body;
        const { tags, attributes } = requireLabels(request.body);
        const spec: DeviceSpec & { row: number } = {
          row: 1,
          tenant_id,
          device_id,
          site_id,
          fw_version,
          metadata: metadata ?? {},
          tags,
          attributes,
        };
        const { devices, errors } = await provisioning.registerDevices([spec]);
        const issued = devices[0];
        if (!issued) throw new AppError('INVALID_REQUEST', errors[0]?.error ?? 'Device was not registered');
        counters.devices_registered += 1;
        return {
          tenant_id: issued.tenant_id,
          device_id: issued.device_id,
          site_id: issued.site_id,
          activation_code: issued.activation_code,
          expires_at: issued.expires_at,
        };
      },
    );

    admin.post(
      '/api/admin/devices/bulk',
      {
        bodyLimit: BULK_BODY_LIMIT,
        schema: {
          summary:
            'Register many devices: a JSON array, {"devices": [...]}, or text/csv (columns tenant_id, device_id, site_id, fw_version, metadata, tags separated by ";", attr.<key>)',
          response: {
            200: Obj({
              created: Type.Integer(),
              updated: Type.Integer(),
              failed: Type.Integer(),
              devices: Type.Array(
                Obj({ ...RegisteredDevice.properties, row: Type.Integer(), created: Type.Boolean() }),
              ),
              errors: Type.Array(BulkRowError),
            }),
            400: Type.Object(
              { detail: Type.String(), errors: Type.Optional(Type.Array(BulkRowError)) },
              { description: 'nothing registered: every row error' },
            ),
          },
        },
      },
      async (request) => {
        const records = bulkRecords(request.body);
        const checked = checkBulk(records);
        const registered =
          checked.devices.length > 0
            ? await provisioning.registerDevices(checked.devices)
            : { devices: [], errors: [] };
        const errors = [...checked.errors, ...registered.errors].sort((a, b) => a.row - b.row);
        if (registered.devices.length === 0) {
          throw new AppError('INVALID_REQUEST', 'No device was registered; see errors', { errors });
        }
        counters.devices_registered += registered.devices.length;
        return {
          created: registered.devices.filter((d) => d.created).length,
          updated: registered.devices.filter((d) => !d.created).length,
          failed: errors.length,
          devices: registered.devices,
          errors,
        };
      },
    );

    admin.get(
      '/api/admin/devices',
      {
        schema: {
          summary: 'Registered devices of every tenant',
          querystring: ListDevicesQuery,
          response: {
            200: Type.Array(
              Obj({
                tenant_id: Type.String(),
                device_id: Type.String(),
                site_id: Type.String(),
                status: Type.String(),
                provisioned_at: Timestamp,
                fw_version: Nullable(Type.String()),
                token_set: Type.Boolean(),
              }),
            ),
          },
        },
      },
      async (request) => {
        const rows = await provisioning.listDevices(request.query);
        return rows;
      },
    );

    admin.post(
      '/api/admin/devices/:tenant_id/:device_id/revoke',
      {
        schema: {
          summary: 'Revoke a device: its token is refused from now on',
          params: DevicePath,
          response: { 200: Obj({ ok: Type.Literal(true) }) },
        },
      },
      async (request) => {
        await provisioning.revokeDevice(request.params.tenant_id, request.params.device_id);
        return { ok: true as const };
      },
    );

    admin.post(
      '/api/admin/devices/:tenant_id/:device_id/rotate-token',
      {
        schema: {
          summary: "Replace a device's provision token (the old one is refused at once)",
          params: DevicePath,
          response: {
            200: Obj({ tenant_id: Type.String(), device_id: Type.String(), new_provision_token: Type.String() }),
          },
        },
      },
      async (request) => {
        const { tenant_id, device_id } = request.params;
        const token = await provisioning.rotateToken(tenant_id, device_id);
        return { tenant_id, device_id, new_provision_token: token };
      },
    );

    options.registerMore?.(admin);
  });

  // Codes are 144 random bits, so guessing is hopeless; the limit is about hammering the endpoint. Only
  // failures count, so a fleet activating at once from one address is never throttled.
  app.post(
    '/api/device/activate',
    {
      schema: {
        summary: 'Trade an activation code for the provision token (once)',
        body: ActivateBody,
        response: {
          200: Obj({ tenant_id: Type.String(), device_id: Type.String(), provision_token: Type.String() }),
        },
      },
    },
    async (request) => {
      const wait = await failures.reserve([request.ip]);
      if (wait !== undefined) {
        throw new AppError(
          'RATE_LIMITED',
          `Too many failed activation attempts from this address; retry in ${wait} s`,
          {},
          wait,
        );
      }
      const { tenant_id, device_id, activation_code } = request.body;
      try {
        const token = await provisioning.activate(tenant_id, device_id, activation_code);
        counters.activations += 1;
        failures.succeeded([request.ip]);
        return { tenant_id, device_id, provision_token: token };
      } catch (error) {
        if (error instanceof AppError) {
          counters.activation_failures += 1;
          failures.failed([request.ip]);
        } else failures.succeeded([request.ip]); // our failure, not the caller's
        throw error;
      }
    },
  );

  return counters;
}
