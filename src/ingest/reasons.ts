// Quarantine reasons (docs/wire-contract.md#quarantine-reasons). The first eleven are the original's exact strings;
// the rest are this project's fixes and its own failure modes.
export const REASONS = [
  'PAYLOAD_TOO_LARGE',
  'BAD_TOPIC_FORMAT',
  'RATE_LIMITED',
  'TENANT_MISMATCH_TOPIC_VS_PAYLOAD',
  'MISSING_SITE_ID',
  'UNREGISTERED_DEVICE',
  'DEVICE_REVOKED',
  'SITE_MISMATCH_REGISTRY_VS_PAYLOAD',
  'TOKEN_NOT_SET_IN_REGISTRY',
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'INVALID_JSON',
  'INVALID_METRICS',
  'INVALID_SEQ',
  'TS_IN_FUTURE',
  'INVALID_MSG_TYPE',
  'WRITE_FAILED',
  'OVERLOADED',
  'INVALID_REPLY',
  'INVALID_POSITION',
] as const;

export type Reason = (typeof REASONS)[number];

/** HTTP ingest answers with these statuses (docs/wire-contract.md#http-ingest); anything else is 400. */
const HTTP_STATUS: Partial<Record<Reason, number>> = {
  RATE_LIMITED: 429,
  UNREGISTERED_DEVICE: 403,
  DEVICE_REVOKED: 403,
  TOKEN_MISSING: 401,
  TOKEN_INVALID: 401,
  TOKEN_NOT_SET_IN_REGISTRY: 401,
  OVERLOADED: 503,
  WRITE_FAILED: 500,
};

export function httpStatusFor(reason: Reason): number {
  return HTTP_STATUS[reason] ?? 400;
}

/** The original's HTTP ingest says SITE_MISMATCH where MQTT says SITE_MISMATCH_REGISTRY_VS_PAYLOAD. */
export function httpReason(reason: Reason): string {
  return reason === 'SITE_MISMATCH_REGISTRY_VS_PAYLOAD' ? 'SITE_MISMATCH' : reason;
}
