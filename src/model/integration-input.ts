// Checks of integration settings when they are saved, with the 400 messages of
// docs/wire-contract.md#customer-api: destinations (SSRF rules, DNS resolved now; the worker checks again at
// send time), SNMP credentials, email addresses and MQTT topics.
import { AppError } from '../errors.js';
import type { SnmpTarget } from '../channels/target.js';
import { resolveDestination, SsrfError, type Allowlist, type Resolver } from '../lib/ssrf.js';
import { unknownVariables } from '../channels/template.js';

export interface DestinationRules {
  allowlist: Allowlist;
  requireHttps: boolean;
  resolver?: Resolver | undefined;
}

async function destinationProblem(host: string, rules: DestinationRules): Promise<string | undefined> {
  try {
    await resolveDestination(host, rules.allowlist, rules.resolver);
    return undefined;
  } catch (error) {
    if (error instanceof SsrfError) return error.message;
    throw error;
  }
}

export async function checkWebhookUrl(url: string, rules: DestinationRules): Promise<string> {
  const fail = (why: string) => new AppError('INVALID_REQUEST', `Invalid webhook URL: ${why}`);
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw fail('Invalid URL format');
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || !parsed.hostname) throw fail('Invalid URL format');
  if (rules.requireHttps && parsed.protocol !== 'https:') throw fail('Only HTTPS URLs are allowed');
  if (parsed.username || parsed.password) throw fail('Put credentials in headers, not in the URL');
  const problem = await destinationProblem(parsed.hostname, rules);
  if (problem) throw fail(problem);
  return parsed.toString();
}

export async function checkSnmpHost(host: string, port: number, rules: DestinationRules): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new AppError('INVALID_REQUEST', `Invalid SNMP destination: port must be 1-65535`);
  }
  const problem = await destinationProblem(host, rules);
  if (problem) throw new AppError('INVALID_REQUEST', `Invalid SNMP destination: ${problem}`);
}

export async function checkSmtpHost(host: string, rules: DestinationRules): Promise<void> {
  const problem = await destinationProblem(host, rules);
  if (problem) throw new AppError('INVALID_REQUEST', `Invalid email configuration: SMTP host: ${problem}`);
}

export async function checkBrokerUrl(url: string, rules: DestinationRules): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('INVALID_REQUEST', 'Invalid MQTT broker: Invalid URL format');
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new AppError('INVALID_REQUEST', 'Invalid MQTT broker: use mqtt://, mqtts://, ws:// or wss://');
  }
  if (rules.requireHttps && !['mqtts:', 'wss:'].includes(parsed.protocol)) {
    throw new AppError('INVALID_REQUEST', 'Invalid MQTT broker: TLS (mqtts:// or wss://) is required in PROD');
  }
  if (parsed.username || parsed.password) {
    throw new AppError('INVALID_REQUEST', 'Invalid MQTT broker: give username and password separately');
  }
  const problem = await destinationProblem(parsed.hostname, rules);
  if (problem) throw new AppError('INVALID_REQUEST', `Invalid MQTT broker: ${problem}`);
  return parsed.toString();
}

export interface SnmpConfigInput {
  version: '2c' | '3';
  community?: string | undefined;
  username?: string | undefined;
  auth_protocol?: string | undefined;
  auth_password?: string | undefined;
  priv_protocol?: string | null | undefined;
  priv_password?: string | null | undefined;
}

const AUTH_PROTOCOLS = ['MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384', 'SHA512'];
const PRIV_PROTOCOLS = ['DES', 'AES', 'AES256'];

/** The SNMP settings as the channel uses them; throws 400 on a missing or unsupported credential. */
export function checkSnmpConfig(
  config: SnmpConfigInput,
): Pick<
  SnmpTarget,
  'version' | 'community' | 'username' | 'auth_protocol' | 'auth_password' | 'priv_protocol' | 'priv_password'
> {
  const fail = (why: string) => new AppError('INVALID_REQUEST', `Invalid SNMP configuration: ${why}`);
  if (config.version === '2c') {
    if (!config.community || config.community.length > 64) throw fail('community must be 1-64 characters');
    return { version: '2c', community: config.community };
  }
  if (!config.username || config.username.length > 64) throw fail('username must be 1-64 characters');
  const auth = (config.auth_protocol ?? 'SHA').toUpperCase();
  if (!AUTH_PROTOCOLS.includes(auth)) throw fail(`auth_protocol must be one of ${AUTH_PROTOCOLS.join(', ')}`);
  if (!config.auth_password || config.auth_password.length < 8 || config.auth_password.length > 64) {
    throw fail('auth_password must be 8-64 characters');
  }
  const priv = config.priv_protocol === null ? null : (config.priv_protocol ?? 'AES').toUpperCase();
  if (priv === 'AES192') throw fail('AES192 is not supported; use AES (128) or AES256');
  if (priv !== null && !PRIV_PROTOCOLS.includes(priv))
    throw fail(`priv_protocol must be one of ${PRIV_PROTOCOLS.join(', ')} or null`);
  if (priv !== null && (!config.priv_password || config.priv_password.length < 8 || config.priv_password.length > 64)) {
    throw fail('priv_password (8-64 characters) is required with priv_protocol');
  }
  return {
    version: '3',
    username: config.username,
    auth_protocol: auth as SnmpTarget['auth_protocol'],
    auth_password: config.auth_password,
    priv_protocol: priv as SnmpTarget['priv_protocol'],
    ...(priv !== null && { priv_password: config.priv_password ?? undefined }),
  };
}

const EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/;
const DISPOSABLE = ['mailinator.com', 'guerrillamail.com', 'tempmail.com', 'throwaway.email', '10minutemail.com'];

export function checkEmailAddresses(from: string, recipients: { to: string[]; cc: string[]; bcc: string[] }): void {
  const fail = (why: string) => new AppError('INVALID_REQUEST', `Invalid email configuration: ${why}`);
  if (from.length > 254 || !EMAIL.test(from)) throw fail('from_address is not a valid email address');
  if (DISPOSABLE.includes(from.split('@')[1]!.toLowerCase())) throw fail('from_address uses a disposable email domain');
  if (recipients.to.length === 0) throw fail('at least one "to" recipient is required');
  const all = [...recipients.to, ...recipients.cc, ...recipients.bcc];
  if (all.length > 50) throw fail('at most 50 recipients in total');
  const bad = all.find((address) => !EMAIL.test(address));
  if (bad) throw fail(`${bad} is not a valid email address`);
}

export function checkEmailTemplates(subject: string, body: string | undefined): void {
  const unknown = [...unknownVariables(subject), ...unknownVariables(body ?? '')];
  if (unknown.length > 0) {
    throw new AppError(
      'INVALID_REQUEST',
      `Invalid email configuration: Unknown template variables: ${[...new Set(unknown)].join(', ')}`,
    );
  }
}

const TOPIC_VARIABLES = [
  'tenant_id',
  'severity',
  'severity_label',
  'site_id',
  'device_id',
  'alert_id',
  'alert_type',
  'event',
];

/** Topics are templates under alerts/<own tenant>/ (or alerts/{tenant_id}/); no wildcards. */
export function checkMqttTopic(topic: string, tenantId: string): void {
  const fail = (why: string) => new AppError('INVALID_REQUEST', `Invalid MQTT topic: ${why}`);
  if (topic.length === 0) throw fail('Topic is empty');
  if (topic.length > 512) throw fail('Topic is too long');
  if (topic.includes('\u0000')) throw fail('Topic contains null character');
  if (/[+#]/.test(topic)) throw fail('MQTT wildcards are not allowed');
  if (!topic.startsWith('alerts/')) throw fail('Topic must start with alerts/');
  if (!topic.startsWith(`alerts/${tenantId}/`) && !topic.startsWith('alerts/{tenant_id}/')) {
    throw fail(`Topic must start with alerts/${tenantId}/ or alerts/{tenant_id}/`);
  }
  const unknown = unknownVariables(topic, TOPIC_VARIABLES);
  if (unknown.length > 0) throw fail(`Unknown template variables: ${unknown.join(', ')}`);
  if (/[{}]/.test(topic.replace(/\{[a-z_]+\}/g, ''))) throw fail('Invalid template variables');
}
