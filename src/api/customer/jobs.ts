// Fleet jobs, command templates and configuration for a selection (issue 30, ADR 027), for a tenant's
// customer_admin; every customer role reads them. A job's selection is resolved when it is created (the
// devices of that moment, ACTIVE ones); the dispatcher's job runner does the rest.
import { Type } from '@sinclair/typebox';
import type { Bus } from '../../bus/index.js';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { JsonObject, NoContent, Nullable, Obj, OneOf, Timestamp } from '../../lib/schema.js';
import * as jobs from '../../model/jobs.js';
import * as templates from '../../model/command-templates.js';
import { setDesired } from '../../model/commands.js';
import { findImage } from '../../model/firmware.js';
import { isUuid } from '../../lib/uuid.js';
import type { TenantScope } from '../../db/database.js';
import { countSelection, DeviceSelectorSchema, selectDevices, selectsSomething } from '../../model/device-selection.js';
import { requireSelector } from '../../model/selector-input.js';
import { COMMAND_NAME, FIRMWARE_COMMAND, mergePatch } from '../../model/command-protocol.js';
import { displayName } from '../auth.js';
import { checkDocument } from '../commands.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';
import { countOf, noteAudit } from '../audit-note.js';

const tags = ['customer/jobs'];
const MAX_JOB_DEVICES = 100_000;

const Counts = Obj({
  total: Type.Integer(),
  ...Object.fromEntries(jobs.EXECUTION_STATES.map((state) => [state, Type.Integer()])),
});

const JobView = Obj({
  job_id: Type.String(),
  tenant_id: Type.String(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('command'), Type.Literal('config'), Type.Literal('firmware')]),
  command_name: Nullable(Type.String()),
  params: Type.Unknown(),
  selector: Type.Unknown(),
  state: OneOf(['RUNNING', 'COMPLETED', 'CANCELED', 'ABORTED']),
  rate_per_minute: Nullable(Type.Integer()),
  max_in_flight: Type.Integer(),
  timeout_seconds: Type.Integer(),
  abort_failure_percent: Nullable(Type.Integer()),
  abort_min_devices: Type.Integer(),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
  started_at: Timestamp,
  finished_at: Nullable(Timestamp),
  reason: Nullable(Type.String()),
  counts: Counts,
});

const CreateJob = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Union([Type.Literal('command'), Type.Literal('config'), Type.Literal('firmware')]),
    command_name: Type.Optional(
      Type.String({ pattern: COMMAND_NAME.source, description: 'kind command: the command' }),
    ),
    params: Type.Optional(
      Type.Unknown({
        description:
          'command: its params; config: a JSON merge patch of the desired configuration; firmware: {image_id}',
      }),
    ),
    selector: DeviceSelectorSchema,
    rate_per_minute: Type.Optional(
      Nullable(
        Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'devices started per minute; null: no limit' }),
      ),
    ),
    max_in_flight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 100 })),
    timeout_seconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 30 * 86_400, default: 3600, description: 'per device' }),
    ),
    // Null first: the API coerces types, and an integer-first union would read null as 0 ("abort at once").
    abort_failure_percent: Type.Optional(
      Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: 100 })], { description: 'null: never abort' }),
    ),
    abort_min_devices: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10 })),
  },
  { additionalProperties: false },
);

const JobParams = Type.Object({ job_id: Type.String({ format: 'uuid' }) });

const ExecutionView = Obj({
  device_id: Type.String(),
  state: OneOf(jobs.EXECUTION_STATES),
  command_id: Nullable(Type.String()),
  config_version: Nullable(Type.Integer()),
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
  error: Nullable(Type.String()),
  progress: Nullable(Type.String()),
  result: Type.Unknown(),
});

const TemplateView = Obj({
  template_id: Type.String(),
  label: Type.String(),
  name: Type.String(),
  params: Type.Unknown(),
  description: Nullable(Type.String()),
  created_at: Timestamp,
});

/** What the job sends each device, checked: a command's name and params, a configuration patch; undefined for firmware. */
function jobPayload(body: { kind: jobs.JobKind; command_name?: string | undefined; params?: unknown }) {
  if (body.kind === 'command') {
    if (!body.command_name) throw new AppError('INVALID_REQUEST', 'A command job needs command_name');
    if (body.command_name === FIRMWARE_COMMAND)
      throw new AppError('INVALID_REQUEST', `${FIRMWARE_COMMAND} is what a job of kind firmware sends`);
    checkDocument(body.params, 'params');
    return { command_name: body.command_name, params: body.params ?? {} };
  }
  if (body.kind === 'config') {
    const patch = body.params;
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
      throw new AppError(
        'INVALID_REQUEST',
        'A config job needs params: a JSON object, merged into each desired configuration',
      );
    checkDocument(patch, 'params');
    return { command_name: null, params: patch };
  }
  return undefined; // firmware: resolved against the tenant's images (firmwareParams)
}

/** A firmware job's command parameters: the image, its version, size and SHA-256 (the link is added as it is sent). */
async function firmwareParams(tx: TenantScope, params: unknown) {
  const imageId = (params as { image_id?: unknown } | null)?.image_id;
  if (typeof imageId !== 'string' || !isUuid(imageId))
    throw new AppError('INVALID_REQUEST', 'A firmware job needs params {"image_id": "<an uploaded image\'s id>"}');
  const image = await findImage(tx, imageId);
  if (!image) throw new AppError('NOT_FOUND', 'No firmware image with that id in this tenant');
  return {
    command_name: FIRMWARE_COMMAND,
    params: {
      image_id: image.image_id,
      version: image.version,
      model: image.model,
      size: image.size_bytes,
      sha256: image.sha256,
    },
  };
}

export function registerJobRoutes(
  app: App,
  deps: { inTenant: InTenant; bus: Bus; pace: (tenantId: string) => void },
): void {
  const { inTenant, bus } = deps;

  app.post(
    '/customer/devices/selection',
    {
      schema: {
        tags,
        summary: 'How many ACTIVE devices a selector picks, and the first of them',
        body: Type.Object({ selector: DeviceSelectorSchema }, { additionalProperties: false }),
        response: { 200: Obj({ count: Type.Integer(), sample: Type.Array(Type.String()) }) },
      },
    },
    (request) => {
      const selector = requireSelector(request.body.selector);
      return inTenant(request, async (tx) => ({
        count: await countSelection(tx, selector),
        sample: await selectDevices(tx, selector, 20),
      }));
    },
  );

  app.patch(
    '/customer/config',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary:
          'Change the desired configuration of every selected device with one JSON merge patch (a new version each)',
        body: Type.Object({ selector: DeviceSelectorSchema, desired: JsonObject }, { additionalProperties: false }),
        response: { 200: Obj({ devices: Type.Integer() }) },
      },
    },
    async (request) => {
      const { desired } = request.body;
      const selector = requireSelector(request.body.selector);
      checkDocument(desired, 'desired');
      deps.pace(principalOf(request).tenantId!);
      const changed = await inTenant(request, async (tx) => {
        const devices = await selectDevices(tx, selector);
        const versions = await setDesired(
          tx,
          devices,
          (current) => mergePatch(current, desired),
          displayName(principalOf(request)),
        );
        return { tenantId: tx.tenantId, devices: [...versions.keys()] };
      });
      bus.publish(
        'config.changed',
        changed.devices.map((device_id) => ({ tenant_id: changed.tenantId, device_id })),
      );
      noteAudit(request, {
        summary: `changed the desired configuration of ${countOf(changed.devices.length, 'device')}`,
      });
      return { devices: changed.devices.length };
    },
  );

  app.post(
    '/customer/jobs',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary:
          'Start a fleet job: a command or a configuration patch for each selected device, at a pace, stopped early by failures',
        body: CreateJob,
        response: { 201: JobView },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const payload = jobPayload(body);
      const selector = requireSelector(body.selector);
      if (!selectsSomething(selector))
        throw new AppError(
          'INVALID_REQUEST',
          'The selector picks no device: give all, or criteria (site_ids, device_prefix, device_ids, tags_any, tags_all, attributes, status)',
        );
      deps.pace(principalOf(request).tenantId!);
      const job = await inTenant(request, async (tx) => {
        const sends = payload ?? (await firmwareParams(tx, body.params));
        const devices = await selectDevices(tx, selector);
        if (devices.length === 0) throw new AppError('INVALID_REQUEST', 'No ACTIVE device matches the selector');
        if (devices.length > MAX_JOB_DEVICES)
          throw new AppError(
            'INVALID_REQUEST',
            `A job covers at most ${MAX_JOB_DEVICES} devices; this selector picks ${devices.length}`,
          );
        return jobs.createJob(
          tx,
          {
            name: body.name,
            kind: body.kind,
            ...sends,
            selector,
            rate_per_minute: body.rate_per_minute ?? null,
            max_in_flight: body.max_in_flight ?? 100,
            timeout_seconds: body.timeout_seconds ?? 3600,
            abort_failure_percent: body.abort_failure_percent ?? null,
            abort_min_devices: body.abort_min_devices ?? 10,
            created_by: displayName(principalOf(request)),
          },
          devices,
        );
      });
      noteAudit(request, {
        resourceId: job.job_id,
        summary: `started job "${job.name}" on ${countOf(job.counts.total, 'device')}`,
      });
      return reply.status(201).send(job);
    },
  );

  app.get(
    '/customer/jobs',
    {
      schema: {
        tags,
        summary: "The tenant's jobs, newest first, with their progress",
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
        response: { 200: Obj({ jobs: Type.Array(JobView) }) },
      },
    },
    (request) => inTenant(request, async (tx) => ({ jobs: await jobs.listJobs(tx, request.query.limit) })),
  );

  app.get(
    '/customer/jobs/:job_id',
    { schema: { tags, summary: 'One job and its progress', params: JobParams, response: { 200: JobView } } },
    async (request) => {
      const job = await inTenant(request, (tx) => jobs.getJob(tx, request.params.job_id));
      if (!job) throw new AppError('NOT_FOUND', 'No job with that id in this tenant');
      return job;
    },
  );

  app.get(
    '/customer/jobs/:job_id/executions',
    {
      schema: {
        tags,
        summary: "A job's devices with their outcome, in rollout order",
        params: JobParams,
        querystring: Type.Object({
          state: Type.Optional(OneOf(jobs.EXECUTION_STATES)),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
        }),
        response: { 200: Obj({ executions: Type.Array(ExecutionView) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => {
        if (!(await jobs.getJob(tx, request.params.job_id)))
          throw new AppError('NOT_FOUND', 'No job with that id in this tenant');
        return { executions: await jobs.listExecutions(tx, request.params.job_id, request.query) };
      }),
  );

  app.post(
    '/customer/jobs/:job_id/cancel',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Cancel a running job: devices not started are withdrawn, and so are commands not yet confirmed',
        params: JobParams,
        response: { 200: JobView },
      },
    },
    async (request) => {
      const { job_id } = request.params;
      const outcome = await inTenant(request, async (tx) => {
        const canceled = await jobs.stopJob(tx, job_id, 'CANCELED', `canceled by ${displayName(principalOf(request))}`);
        return { canceled, job: await jobs.getJob(tx, job_id) };
      });
      if (!outcome.job) throw new AppError('NOT_FOUND', 'No job with that id in this tenant');
      if (!outcome.canceled)
        throw new AppError('CONFLICT', `The job is ${outcome.job.state}: only a RUNNING job can be canceled`);
      if (outcome.canceled.length > 0) bus.publish('commands.changed', outcome.canceled);
      noteAudit(request, { resourceId: job_id, summary: `canceled job "${outcome.job.name}"` });
      return outcome.job;
    },
  );

  app.post(
    '/customer/jobs/:job_id/retry',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Run the failed and timed-out devices of a job again',
        params: JobParams,
        response: { 200: JobView },
      },
    },
    async (request) => {
      const { job_id } = request.params;
      const job = await inTenant(request, async (tx) => {
        const found = await jobs.getJob(tx, job_id);
        if (!found) throw new AppError('NOT_FOUND', 'No job with that id in this tenant');
        if ((await jobs.retryFailed(tx, job_id)) === 0)
          throw new AppError('CONFLICT', 'The job has no failed device to retry');
        return (await jobs.getJob(tx, job_id))!;
      });
      noteAudit(request, { resourceId: job_id, summary: `retried the failed devices of job "${job.name}"` });
      return job;
    },
  );

  app.get(
    '/customer/command-templates',
    {
      schema: {
        tags,
        summary: "The tenant's saved commands",
        response: { 200: Obj({ templates: Type.Array(TemplateView) }) },
      },
    },
    (request) => inTenant(request, async (tx) => ({ templates: await templates.listTemplates(tx) })),
  );

  app.post(
    '/customer/command-templates',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Save a command with its parameters under a label',
        body: Type.Object(
          {
            label: Type.String({ minLength: 1, maxLength: 100 }),
            name: Type.String({ pattern: COMMAND_NAME.source }),
            params: Type.Optional(Type.Unknown()),
            description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: TemplateView },
      },
    },
    async (request, reply) => {
      checkDocument(request.body.params, 'params');
      const created = await inTenant(request, (tx) =>
        templates.createTemplate(tx, {
          ...request.body,
          params: request.body.params ?? {},
          description: request.body.description ?? null,
        }),
      );
      noteAudit(request, { resourceId: created.template_id, summary: `saved command template "${created.label}"` });
      return reply.status(201).send(created);
    },
  );

  app.delete(
    '/customer/command-templates/:template_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Remove a saved command',
        params: Type.Object({ template_id: Type.String({ format: 'uuid' }) }),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      const removed = await inTenant(request, (tx) => templates.deleteTemplate(tx, request.params.template_id));
      if (!removed) throw new AppError('NOT_FOUND', 'No command template with that id in this tenant');
      return reply.status(204).send(null);
    },
  );
}
