// HTTP ingest, as the reference's (§1.6): one message per request, or up to 100 in a batch. A 202 is
// sent only after the row is written (see ADR 008), so an accepted message survives a crash right after.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import type { IngestPipeline, Outcome } from './pipeline.js';
import { httpReason, httpStatusFor } from './reasons.js';
import { deviceTopic } from './topic.js';

const HTTP_MSG_TYPES = ['telemetry', 'heartbeat'] as const;
const MAX_BATCH = 100;

export interface HttpIngestOptions {
  pipeline: IngestPipeline;
  singleBodyLimit: number;
  batchBodyLimit: number;
}

export function registerHttpIngest(app: FastifyInstance, options: HttpIngestOptions): void {
  const { pipeline } = options;

  app.register(async (ingest) => {
    // The raw text is what the size limit and the quarantine see, so JSON is parsed by the pipeline.
    ingest.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    ingest.post<{ Params: { tenant_id: string; device_id: string; msg_type: string } }>(
      '/ingest/v1/tenant/:tenant_id/device/:device_id/:msg_type',
      {
        bodyLimit: options.singleBodyLimit,
        schema: {
          headers: {
            type: 'object',
            properties: { 'x-provision-token': { type: 'string' } },
            required: ['x-provision-token'],
          },
        },
      },
      async (request, reply) => {
        const { tenant_id, device_id, msg_type } = request.params;
        if (!(HTTP_MSG_TYPES as readonly string[]).includes(msg_type)) {
          throw new AppError('INVALID_REQUEST', "Invalid msg_type. Must be 'telemetry' or 'heartbeat'");
        }
        const body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null);
        requireSiteId(body);
        const outcome = await handleOrUnavailable(request.log, () =>
          pipeline.handle({
            source: 'http',
            topic: deviceTopic(tenant_id, device_id, msg_type),
            body,
            headerToken: request.headers['x-provision-token'] as string,
            allowedMsgTypes: HTTP_MSG_TYPES,
            wait: 'stored',
          }),
        );
        if (!outcome.accepted)
          return reply.status(httpStatusFor(outcome.reason)).send({ detail: httpReason(outcome.reason) });
        return reply.status(202).send({ status: 'accepted', device_id, seq: outcome.message.seq });
      },
    );

    ingest.post('/ingest/v1/batch', { bodyLimit: options.batchBodyLimit }, async (request, reply) => {
      const messages = parseBatch(request.body);
      const outcomes = await Promise.all(
        messages.map(async (message) => {
          const { tenant_id, device_id, msg_type, provision_token, ...payload } = message;
          if (typeof tenant_id !== 'string' || typeof device_id !== 'string' || typeof msg_type !== 'string') {
            return { outcome: { accepted: false, reason: 'BAD_TOPIC_FORMAT' } as Outcome, device_id };
          }
          const outcome = await handleOrUnavailable(request.log, () =>
            pipeline.handle({
              source: 'http',
              topic: deviceTopic(tenant_id, device_id, msg_type),
              body: JSON.stringify(payload),
              headerToken: typeof provision_token === 'string' ? provision_token : undefined,
              allowedMsgTypes: HTTP_MSG_TYPES,
              wait: 'stored',
            }),
          );
          return { outcome, device_id };
        }),
      );
      const results = outcomes.map(({ outcome, device_id }, index) => ({
        index,
        status: outcome.accepted ? 'accepted' : 'rejected',
        reason: outcome.accepted ? null : httpReason(outcome.reason),
        device_id: typeof device_id === 'string' ? device_id : null,
      }));
      const accepted = results.filter((r) => r.status === 'accepted').length;
      return reply.status(accepted > 0 ? 202 : 400).send({ accepted, rejected: results.length - accepted, results });
    });
  });
}

/** As the reference's pydantic model: site_id is a required string (422), the rest is ingest's to judge. */
function requireSiteId(body: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return; // not JSON: quarantined as INVALID_JSON by the pipeline
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const site = (parsed as { site_id?: unknown }).site_id;
    if (typeof site !== 'string') {
      const item =
        site === undefined
          ? { loc: ['body', 'site_id'], msg: 'Field required', type: 'missing' }
          : { loc: ['body', 'site_id'], msg: 'Input should be a valid string', type: 'string_type' };
      throw new AppError('VALIDATION_FAILED', 'validation failed', { detail: [item] });
    }
  }
}

function parseBatch(body: unknown): Record<string, unknown>[] {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new AppError('INVALID_REQUEST', 'Request body is not valid JSON; send {"messages": [...]}');
    }
  }
  const messages = (parsed as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) {
    throw new AppError('VALIDATION_FAILED', 'validation failed', {
      detail: [{ loc: ['body', 'messages'], msg: 'Field required', type: 'missing' }],
    });
  }
  if (messages.length === 0) throw new AppError('INVALID_REQUEST', 'Batch is empty');
  if (messages.length > MAX_BATCH) throw new AppError('INVALID_REQUEST', `Batch exceeds ${MAX_BATCH} message limit`);
  return messages.map((m) =>
    typeof m === 'object' && m !== null && !Array.isArray(m) ? (m as Record<string, unknown>) : {},
  );
}

/** A database that cannot be reached answers 503, so the device retries instead of giving up. */
async function handleOrUnavailable(log: FastifyBaseLogger, handle: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await handle();
  } catch (error) {
    log.warn({ err: error }, 'HTTP ingest could not process a message');
    throw new AppError('UNAVAILABLE', 'Ingest is temporarily unavailable; retry shortly', {}, 5);
  }
}
