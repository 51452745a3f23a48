// HTTP ingest (docs/wire-contract.md#http-ingest): one message per request, or up to 100 in a batch. A 202 is
// sent only after the row is written (see ADR 008), so an accepted message survives a crash right after.
import type { FastifyBaseLogger } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Problem, type App } from '../http/server.js';
import { Nullable, Obj } from '../lib/schema.js';
import { AppError } from '../errors.js';
import type { IngestPipeline, Outcome } from './pipeline.js';
import { httpReason, httpStatusFor, type Reason } from './reasons.js';
import { deviceTopic } from './topic.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../lib/json-input.js';

const HTTP_MSG_TYPES = ['telemetry', 'heartbeat'] as const;
const MAX_BATCH = 100;

export interface HttpIngestOptions {
  pipeline: IngestPipeline;
  singleBodyLimit: number;
  batchBodyLimit: number;
}

export function registerHttpIngest(app: App, options: HttpIngestOptions): void {
  const { pipeline } = options;

  app.register(async (ingest) => {
    // A request refused before the pipeline read it is still a reject: counted by reason, quarantined.
    const reached = new WeakSet<object>();
    const refused = new WeakMap<object, Reason>();
    ingest.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode < 400 || reached.has(request)) return;
      const reason = refused.get(request) ?? 'INVALID_JSON';
      const { tenant_id, device_id, msg_type } = (request.params ?? {}) as Record<string, string | undefined>;
      pipeline.rejectUnread(
        'http',
        reason,
        tenant_id ? deviceTopic(tenant_id, device_id ?? '', msg_type ?? '') : 'http/batch',
      );
    });
    ingest.addHook('onError', async (request, _reply, error) => {
      if (!refused.has(request)) refused.set(request, unreadReason(error));
    });
    const refuse = (request: object, reason: Reason, error: AppError) => {
      refused.set(request, reason);
      return error;
    };

    // The raw text is what the size limit and the quarantine see, so JSON is parsed by the pipeline.
    ingest.removeContentTypeParser('application/json');
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
          response: { 202: Obj({ status: Type.Literal('accepted'), device_id: Type.String(), seq: Type.Integer() }) },
        },
      },
      async (request, reply) => {
        const { tenant_id, device_id, msg_type } = request.params;
        if (!(HTTP_MSG_TYPES as readonly string[]).includes(msg_type)) {
          throw refuse(
            request,
            'INVALID_MSG_TYPE',
            new AppError('INVALID_REQUEST', "Invalid msg_type. Must be 'telemetry' or 'heartbeat'"),
          );
        }
        const body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null);
        const missingSite = siteIdProblem(body);
        if (missingSite) throw refuse(request, 'MISSING_SITE_ID', missingSite);
        reached.add(request);
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
        return reply
          .status(202)
          .send({ status: 'accepted', device_id, seq: 'message' in outcome ? outcome.message.seq : 0 });
      },
    );

    ingest.post(
      '/ingest/v1/batch',
      {
        bodyLimit: options.batchBodyLimit,
        schema: {
          summary: 'Up to 100 messages, each with tenant_id, device_id, msg_type and provision_token',
          response: {
            202: BatchResult,
            400: Type.Union([BatchResult, Problem], { description: 'nothing accepted, or a body that is no batch' }),
          },
        },
      },
      async (request, reply) => {
        let messages: Record<string, unknown>[];
        try {
          messages = parseBatch(request.body);
        } catch (error) {
          throw refuse(request, 'INVALID_JSON', error as AppError);
        }
        reached.add(request); // each message is counted by the pipeline (or below, without a topic)
        const outcomes = await Promise.all(
          messages.map(async (message) => {
            const { tenant_id, device_id, msg_type, provision_token, ...payload } = message;
            if (nestsDeeperThan(payload, MAX_JSON_DEPTH)) {
              pipeline.rejectUnread('http', 'INVALID_JSON', 'http/batch');
              return { outcome: { accepted: false, reason: 'INVALID_JSON' } as Outcome, device_id };
            }
            if (typeof tenant_id !== 'string' || typeof device_id !== 'string' || typeof msg_type !== 'string') {
              pipeline.rejectUnread('http', 'BAD_TOPIC_FORMAT', 'http/batch');
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
          status: outcome.accepted ? ('accepted' as const) : ('rejected' as const),
          reason: outcome.accepted ? null : httpReason(outcome.reason),
          device_id: typeof device_id === 'string' ? device_id : null,
        }));
        const accepted = results.filter((r) => r.status === 'accepted').length;
        return reply.status(accepted > 0 ? 202 : 400).send({ accepted, rejected: results.length - accepted, results });
      },
    );
  });
}

const BatchResult = Obj({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  results: Type.Array(
    Obj({
      index: Type.Integer(),
      status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
      reason: Nullable(Type.String({ description: 'a quarantine reason (docs/wire-contract.md#quarantine-reasons)' })),
      device_id: Nullable(Type.String()),
    }),
  ),
});

/** Why Fastify refused a request before our handler ran. */
function unreadReason(error: { code?: string; statusCode?: number; validationContext?: string }): Reason {
  if (error.statusCode === 413) return 'PAYLOAD_TOO_LARGE';
  // The X-Provision-Token header is the one thing the schema requires.
  if (error.code === 'FST_ERR_VALIDATION' && error.validationContext === 'headers') return 'TOKEN_MISSING';
  if (error.code === 'INVALID_CHARACTER') return 'BAD_TOPIC_FORMAT'; // in a path parameter: the topic's ids
  return 'INVALID_JSON'; // wrong media type, empty body: it could not be read as a message
}

/** As the original's request model: site_id is a required string (422), the rest is ingest's to judge. */
function siteIdProblem(body: string): AppError | undefined {
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
      return new AppError('VALIDATION_FAILED', 'validation failed', { detail: [item] });
    }
  }
  return undefined;
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
