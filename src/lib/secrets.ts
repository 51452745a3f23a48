// Integration secrets (SNMP community and passwords, SMTP and MQTT passwords, credential-like webhook
// headers, webhook signing secrets) are stored as one AES-256-GCM sealed JSON object per integration.
// The key comes from SECRETS_KEY (or, in DEV, a key generated once in PULSE_DATA_DIR); the database
// alone never reveals a secret, and the API never returns one.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export type Secrets = Record<string, unknown>;

export interface SecretBox {
  seal(secrets: Secrets): string;
  open(sealed: string | null): Secrets;
  /**
   * A key of its own for `label` (HKDF-SHA256 of SECRETS_KEY), so one secret serves other purposes
   * without reusing the sealing key; every process with the same SECRETS_KEY derives the same.
   */
  deriveKey(label: string): Buffer;
}

const VERSION = 'v1';

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
  return {
    seal(secrets) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
      return [
        VERSION,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        data.toString('base64url'),
      ].join('.');
    },
    open(sealed) {
      if (!sealed) return {};
      const [version, iv, tag, data] = sealed.split('.');
      if (version !== VERSION || !iv || !tag || data === undefined) throw new Error('unreadable integration secrets');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as Secrets;
    },
    deriveKey: (label) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), label, 32)),
  };
}

/** SECRETS_KEY as 64 hex characters or base64 of 32 bytes. */
export function parseSecretsKey(value: string): Buffer | undefined {
  const key = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  return key.length === 32 ? key : undefined;
}
