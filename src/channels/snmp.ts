// SNMP trap (v2c or v3) with the original's varbinds under the integration's OID prefix; the severity
// varbind follows the alert's numeric severity (1 critical, 2 warning, 3 info). See
// docs/wire-contract.md#notification-payload.
import snmp from 'net-snmp';
import type { SendResult, SnmpTarget } from './target.js';
import type { AlertPayload } from './payload.js';
import { resolveDestination, SsrfError } from '../lib/ssrf.js';
import { errorText, type SendContext } from './context.js';

const AUTH: Record<string, snmp.AuthProtocols> = {
  MD5: snmp.AuthProtocols.md5,
  SHA: snmp.AuthProtocols.sha,
  SHA224: snmp.AuthProtocols.sha224,
  SHA256: snmp.AuthProtocols.sha256,
  SHA384: snmp.AuthProtocols.sha384,
  SHA512: snmp.AuthProtocols.sha512,
};
const PRIV: Record<string, snmp.PrivProtocols> = {
  DES: snmp.PrivProtocols.des,
  AES: snmp.PrivProtocols.aes,
  AES256: snmp.PrivProtocols.aes256b,
};

/** 1 critical (severity 4–5), 2 warning (3), 3 info (1–2). */
export const snmpSeverity = (severity: number) => (severity >= 4 ? 1 : severity === 3 ? 2 : 3);

export function trapVarbinds(prefix: string, payload: AlertPayload): snmp.Varbind[] {
  const text = (oid: string, value: string) => ({ oid: `${prefix}.${oid}`, type: snmp.ObjectType.OctetString, value });
  return [
    text('1.1.0', String(payload.alert_id)),
    text('1.2.0', payload.device_id),
    text('1.3.0', payload.tenant_id),
    { oid: `${prefix}.1.4.0`, type: snmp.ObjectType.Integer, value: snmpSeverity(payload.severity) },
    text('1.5.0', payload.summary || 'Alert'),
    text('1.6.0', payload.event === 'CLOSED' && payload.closed_at ? payload.closed_at : payload.created_at),
    text('1.7.0', payload.event),
    text('1.8.0', payload.alert_type),
    text('1.9.0', payload.site_id),
  ];
}

export async function sendSnmpTrap(target: SnmpTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const destination = `${target.host}:${target.port}`;
  let address: string;
  try {
    address = (await resolveDestination(target.host, ctx.allowlist, ctx.resolver)).address;
  } catch (error) {
    return {
      ok: false,
      error: error instanceof SsrfError ? `host_blocked:${error.reason}` : errorText(error),
      destination,
    };
  }
  const options = { port: target.port, trapPort: target.port, timeout: ctx.timeoutMs, retries: 1 };
  let session: snmp.Session;
  if (target.version === '3') {
    const level = target.priv_protocol
      ? snmp.SecurityLevel.authPriv
      : target.auth_password
        ? snmp.SecurityLevel.authNoPriv
        : snmp.SecurityLevel.noAuthNoPriv;
    session = snmp.createV3Session(
      address,
      {
        name: target.username ?? '',
        level,
        ...(level !== snmp.SecurityLevel.noAuthNoPriv && {
          authProtocol: AUTH[target.auth_protocol ?? 'SHA'],
          authKey: target.auth_password,
        }),
        ...(level === snmp.SecurityLevel.authPriv && {
          privProtocol: PRIV[target.priv_protocol!],
          privKey: target.priv_password,
        }),
      },
      { ...options, version: snmp.Version3 },
    );
  } else {
    session = snmp.createSession(address, target.community ?? 'public', { ...options, version: snmp.Version2c });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      session.on('error', reject);
      session.trap(`${target.oid_prefix}.0.1`, trapVarbinds(target.oid_prefix, payload), (error: Error | null) =>
        error ? reject(error) : resolve(),
      );
    });
    return { ok: true, destination };
  } catch (error) {
    return { ok: false, error: errorText(error), destination };
  } finally {
    session.close();
  }
}
