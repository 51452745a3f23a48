// Where an error becomes an HTTP answer, for every route: an AppError by its code (the one table of
// statuses, which the operator audit log records too), a request failing its schema as FastAPI's 422 list,
// a value the database refuses as a 400, anything else as a 500 that says nothing of the inside.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, type ErrorCode } from '../errors.js';
import { isDataException } from '../lib/sqlstate.js';
import { ResponseSchemaError } from './response-check.js';

const statusByCode: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  CONFLICT: 409,
  /** Adding a device whose id is taken, without saying to replace it. */
  DEVICE_EXISTS: 409,
  /** The current password a user must give to change its own was not right. */
  WRONG_PASSWORD: 400,
  INVALID_REQUEST: 400,
  /** A control character (U+0000…) in a path parameter or query value. */
  INVALID_CHARACTER: 400,
  INVALID_ACTIVATION_CODE: 400,
  ACTIVATION_CODE_USED: 400,
  ACTIVATION_CODE_EXPIRED: 400,
  RATE_LIMITED: 429,
  /** A body (a firmware image) larger than the configured limit. */
  TOO_LARGE: 413,
  /** A tenant holds as many of something as it may (a cap on silences, routes, notes…). */
  LIMIT_REACHED: 409,
  VALIDATION_FAILED: 422,
  UNAVAILABLE: 503,
};

export const errorStatus = (error: AppError): number => statusByCode[error.code];

/** Answers every error of `app` with the `{"detail": …}` body of docs/wire-contract.md#errors. */
export function answerErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.retryAfterSeconds !== undefined) reply.header('Retry-After', String(error.retryAfterSeconds));
      return reply.status(errorStatus(error)).send({ detail: error.message, ...error.extra });
    }
    // Only with API_CHECK_RESPONSES=on: say what is off, so the failing test names it.
    if (error instanceof ResponseSchemaError) return reply.status(500).send({ detail: error.message });
    if (error.validation) {
      return reply.status(422).send({ detail: toFastApiDetail(error) });
    }
    // A value the database refuses as data (out of range, malformed), whichever route passed it on, is the
    // request's to fix; PostgreSQL's words name the value and the type.
    if (isDataException(error)) {
      // Logged too: a route that should have refused the value itself, or a bad cast of our own, shows here.
      request.log.warn(
        { err: error, method: request.method, path: request.url.split('?')[0] },
        'data exception answered 400',
      );
      return reply.status(400).send({ detail: `A value in the request cannot be used: ${error.message}` });
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      // The path only: a query string may carry a token (?token= of the live WebSocket).
      request.log.error({ err: error, method: request.method, path: request.url.split('?')[0] }, 'request failed');
      return reply.status(500).send({ detail: 'Internal server error' });
    }
    return reply.status(status).send({ detail: clientErrorMessage(error) });
  });

  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ detail: 'Not Found' }));
}

function clientErrorMessage(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `Unsupported Content-Type; send application/json`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Request body is empty; send a JSON object';
    default:
      return error instanceof SyntaxError ? `Request body is not valid JSON: ${error.message}` : error.message;
  }
}

interface FastApiValidationItem {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Fastify/ajv validation errors as FastAPI's 422 detail list: [{loc, msg, type}]. */
function toFastApiDetail(error: FastifyError): FastApiValidationItem[] {
  const where = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'body');
  return (error.validation ?? []).map((issue) => {
    const path = issue.instancePath
      .split('/')
      .filter(Boolean)
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
    const params = issue.params as Record<string, unknown>;
    if (issue.keyword === 'required') {
      return { loc: [where, ...path, String(params.missingProperty)], msg: 'Field required', type: 'missing' };
    }
    return { loc: [where, ...path], msg: issue.message ?? 'Invalid value', type: issue.keyword };
  });
}
