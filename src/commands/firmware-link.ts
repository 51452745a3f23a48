// A firmware_update command gets its download link when it goes out, not when it is queued: a sleepy
// device may come for it days later, and the link is short-lived (FIRMWARE_URL_TTL_SECONDS). The link is
// absolute under PUBLIC_URL when that is set, else a path the device puts after its HTTP ingest base URL.
import { firmwareDownloadPath } from '../lib/signed-url.js';
import type { SecretBox } from '../lib/secrets.js';
import { FIRMWARE_COMMAND, type CommandMessage } from '../model/command-protocol.js';

export interface LinkSigning {
  secrets: SecretBox;
  ttlSeconds: number;
  publicUrl: string | undefined;
}

export function withDownloadLink(
  message: CommandMessage,
  device: { tenant_id: string; device_id: string },
  signing: LinkSigning,
  now = new Date(),
): CommandMessage {
  const params = message.params as { image_id?: unknown } | null;
  if (message.name !== FIRMWARE_COMMAND || typeof params?.image_id !== 'string') return message;
  const path = firmwareDownloadPath(
    signing.secrets,
    { imageId: params.image_id, tenantId: device.tenant_id, deviceId: device.device_id },
    now,
    signing.ttlSeconds,
  );
  const url = signing.publicUrl ? new URL(path, signing.publicUrl).toString() : path;
  return { ...message, params: { ...params, url } };
}
