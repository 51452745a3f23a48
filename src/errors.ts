// Errors a user can act on: a stable code and a message, thrown by the model and the roles alike. They know
// nothing of HTTP: the edge maps each code to a status and the `{"detail": "<message>"}` body of
// docs/wire-contract.md#errors in one place (src/http/error-answers.ts); the CLI prints the message.
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

export class AppError extends Error {
  override name = 'AppError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the answer, e.g. per-row errors of a bulk request. */
    readonly extra: Record<string, unknown> = {},
    /** Seconds to wait before trying again (RATE_LIMITED; HTTP sends it as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Refuses a change (a PATCH body) that names nothing to change. */
export function requireChanges(changes: object): void {
  if (Object.values(changes).every((value) => value === undefined))
    throw new AppError('INVALID_REQUEST', 'No fields to update');
}
