// The one place an AppError's code becomes an HTTP status (the error handler of server.ts, the audit log).
import type { AppError, ErrorCode } from '../errors.js';

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
