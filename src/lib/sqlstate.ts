// What PostgreSQL's errors (SQLSTATE codes, the same on both engines) say about retrying.

/** The SQLSTATE of a database error; undefined for anything else (a lost connection, a bug). */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether PostgreSQL refused a value itself (class 22, data exception: U+0000 in text, a number out of
 * range, malformed input): the same value fails again, so it is the sender's to fix, never to retry.
 */
export function isDataException(error: unknown): boolean {
  return sqlState(error)?.startsWith('22') ?? false;
}

/** Whether a unique constraint refused the row (23505). */
export const isUniqueViolation = (error: unknown): boolean => sqlState(error) === '23505';
