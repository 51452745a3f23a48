// Errors a user can act on: a stable code, an HTTP status and a message. The HTTP layer maps them to the
// `{"detail": "<message>"}` bodies of docs/wire-contract.md#errors in one place (src/http/server.ts).
export type ErrorCode =
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'DEVICE_EXISTS'
  | 'WRONG_PASSWORD'
  | 'INVALID_REQUEST'
  | 'INVALID_CHARACTER'
  | 'INVALID_ACTIVATION_CODE'
  | 'ACTIVATION_CODE_USED'
  | 'ACTIVATION_CODE_EXPIRED'
  | 'RATE_LIMITED'
  | 'TOO_LARGE'
  | 'LIMIT_REACHED'
  | 'VALIDATION_FAILED'
  | 'UNAVAILABLE';

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

export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the response body, e.g. per-row errors of a bulk request. */
    readonly extra: Record<string, unknown> = {},
    /** Seconds a client should wait before retrying (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = statusByCode[code];
  }
}

/** Refuses a change (a PATCH body) that names nothing to change. */
export function requireChanges(changes: object): void {
  if (Object.values(changes).every((value) => value === undefined))
    throw new AppError('INVALID_REQUEST', 'No fields to update');
}
