// Silences (issue 18): a customer admin holds its tenant's notifications during maintenance — by site,
// device id or prefix and alert type, from a start (now by default) to an end or for a duration, with a
// comment. Alerts still open and close; what they would have sent is recorded as SILENCED and never
// sent, even after the silence ends. Every customer role sees them; operators see every tenant's.
import { Type } from '@sinclair/typebox';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { Nullable, Obj, OneOf } from '../../lib/schema.js';
import { SilenceView } from '../../model/views.js';
import { ALERT_TYPES } from '../../model/routes.js';
import { DeviceSelectorSchema } from '../../model/device-selection.js';
import { scopeSelector } from '../../model/selector-input.js';
import * as silences from '../../model/silences.js';
import { displayName } from '../auth.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';
import { requireBelowCap, type TenantCaps } from '../limits.js';
import { noteAudit } from '../audit-note.js';

const tags = ['customer/silences'];
const MAX_DAYS = 90;
/**
 * What a silence's site_ids, device_ids and device_prefixes may hold together, in characters: the lists
 * are compared with every alert event the dispatcher handles (up to ~60 KB a silence before issue 36).
 */
const SILENCE_MAX_MATCHER_CHARS = 4096;
const List = Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 })));

const CreateSilence = Type.Object(
  {
    site_ids: List,
    device_ids: List,
    device_prefixes: List,
    alert_types: Type.Optional(Nullable(Type.Array(OneOf(ALERT_TYPES)))),
    // The devices it holds by tags, attributes… (no status), besides the lists above.
    selector: Type.Optional(Nullable(DeviceSelectorSchema)),
    starts_at: Type.Optional(Type.String({ format: 'date-time', description: 'default: now' })),
    ends_at: Type.Optional(Type.String({ format: 'date-time' })),
    duration_minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DAYS * 1440 })),
    comment: Type.String({ minLength: 1, maxLength: 1000, description: 'why: the maintenance it covers' }),
  },
  { additionalProperties: false },
);

/** The window a request asks for: a start (now by default) and an end or a duration, at most 90 days. */
export function silenceWindow(
  body: { starts_at?: string | undefined; ends_at?: string | undefined; duration_minutes?: number | undefined },
  now = new Date(),
): { starts_at: Date; ends_at: Date } {
  const starts = body.starts_at ? new Date(body.starts_at) : now;
  if ((body.ends_at === undefined) === (body.duration_minutes === undefined)) {
    throw new AppError('INVALID_REQUEST', 'Give either ends_at or duration_minutes');
  }
  const ends = body.ends_at ? new Date(body.ends_at) : new Date(starts.getTime() + body.duration_minutes! * 60_000);
  if (ends <= starts) throw new AppError('INVALID_REQUEST', 'ends_at must be after starts_at');
  if (ends <= now)
    throw new AppError('INVALID_REQUEST', 'The silence would be over already: ends_at must be in the future');
  if (ends.getTime() - starts.getTime() > MAX_DAYS * 86_400_000) {
    throw new AppError('INVALID_REQUEST', `A silence lasts at most ${MAX_DAYS} days`);
  }
  return { starts_at: starts, ends_at: ends };
}

/** Refuses matcher lists larger than SILENCE_MAX_MATCHER_CHARS together. */
function checkSilenceSize(lists: (string[] | null | undefined)[]): void {
  const chars = lists.reduce((sum, list) => sum + (list ?? []).reduce((n, entry) => n + entry.length, 0), 0);
  if (chars > SILENCE_MAX_MATCHER_CHARS) {
    throw new AppError(
      'INVALID_REQUEST',
      `site_ids, device_ids, device_prefixes and the selector hold ${chars} characters together, at most ${SILENCE_MAX_MATCHER_CHARS}; cover many devices with a site, a device prefix or a tag`,
    );
  }
}

export function registerSilenceRoutes(app: App, deps: { inTenant: InTenant; caps: TenantCaps }): void {
  const { inTenant, caps } = deps;

  app.get(
    '/customer/silences',
    {
      schema: {
        tags,
        summary: "The tenant's silences: running and coming first, then (include_ended) the ones over",
        querystring: Type.Object({ include_ended: Type.Boolean({ default: false }) }),
        response: { 200: Obj({ tenant_id: Type.String(), silences: Type.Array(SilenceView) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        silences: await silences.listSilences(tx, { tenantId: tx.tenantId, includeEnded: request.query.include_ended }),
      })),
  );

  app.post(
    '/customer/silences',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Hold the notifications of matching alerts for a while (a maintenance window)',
        body: CreateSilence,
        response: { 201: SilenceView },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const window = silenceWindow(body);
      const selector = body.selector === undefined ? null : scopeSelector(body.selector, 'a silence');
      checkSilenceSize([body.site_ids, body.device_ids, body.device_prefixes, selector && [JSON.stringify(selector)]]);
      const orNull = (list: string[] | null | undefined) => (list && list.length > 0 ? list : null);
      const created = await inTenant(request, async (tx) => {
        await requireBelowCap(tx, caps, 'silences');
        return silences.createSilence(tx, {
          site_ids: orNull(body.site_ids),
          device_ids: orNull(body.device_ids),
          device_prefixes: orNull(body.device_prefixes),
          alert_types: orNull(body.alert_types),
          selector,
          ...window,
          comment: body.comment.trim(),
          created_by: displayName(principalOf(request)),
        });
      });
      noteAudit(request, { resourceId: created.silence_id, summary: `created silence "${created.comment}"` });
      return reply.status(201).send(created);
    },
  );

  app.delete(
    '/customer/silences/:silence_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'End a silence now (one not started yet is removed)',
        params: Type.Object({ silence_id: Type.String({ format: 'uuid' }) }),
        response: { 200: SilenceView },
      },
    },
    async (request) => {
      const ended = await inTenant(request, (tx) => silences.endSilence(tx, request.params.silence_id));
      if (!ended) throw new AppError('NOT_FOUND', 'No running or coming silence with that id');
      return ended;
    },
  );
}
