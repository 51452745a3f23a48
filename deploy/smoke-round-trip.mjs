// deploy/smoke.sh's round trip through the stack, from outside as a user and a device would go: every
// request through Caddy's HTTPS origin (ORIGIN, trusting Caddy's CA), the device on MQTT over WebSocket.
// A device is registered and activated, a webhook integration and route are created, the device logs in
// with its token, sends a heartbeat and telemetry, goes silent — and its NO_HEARTBEAT alert must reach
// the webhook. Prints what it did; exits 1 with the reason when anything fails.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, setGlobalDispatcher } from 'undici';
import mqtt from 'mqtt';

const { ORIGIN, CADDY_ROOT_CA, ADMIN_KEY, WORK } = process.env;
const TENANT = 'smoke';
const DEVICE = 'smoke-dev-1';
const SITE = 'site-1';
const deadline = (seconds, what) =>
  setTimeout(() => {
    console.error(`smoke: ${what} did not happen within ${seconds} s`);
    process.exit(1);
  }, seconds * 1000).unref();

const ca = readFileSync(CADDY_ROOT_CA);
setGlobalDispatcher(new Agent({ connect: { ca } }));

async function call(path, body) {
  const response = await fetch(`${ORIGIN}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

// The webhook: HTTPS on loopback, with the certificate smoke.sh made (and Pulse trusts).
const alerts = [];
const webhook = createServer(
  { key: readFileSync(`${WORK}/webhook.key`), cert: readFileSync(`${WORK}/webhook.crt`) },
  (request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      alerts.push(JSON.parse(body));
      response.end('ok');
    });
  },
);
await new Promise((resolve) => webhook.listen(0, '127.0.0.1', resolve));

deadline(30, 'Pulse answering through Caddy');
for (;;) {
  try {
    const health = await call('/health');
    if (health.status === 'ok') break;
  } catch {
    // not yet
  }
  await sleep(250);
}
console.log(`smoke: ${ORIGIN}/health is ok through Caddy`);

const registered = await call('/api/admin/devices', { tenant_id: TENANT, device_id: DEVICE, site_id: SITE });
const { provision_token: token } = await call('/api/device/activate', {
  tenant_id: TENANT,
  device_id: DEVICE,
  activation_code: registered.activation_code,
});
console.log(`smoke: ${TENANT}/${DEVICE} registered and activated through Caddy`);
const integration = await call('/api/admin/integrations', {
  tenant_id: TENANT,
  name: 'smoke webhook',
  url: `https://127.0.0.1:${webhook.address().port}/hook`,
});
await call('/api/admin/integration-routes', {
  tenant_id: TENANT,
  integration_id: integration.integration_id,
  name: 'everything',
});

// The device: MQTT over WebSocket through Caddy, logged in with its token (Mosquitto's dynsec login).
deadline(60, 'the round trip');
const device = await mqtt.connectAsync(`${ORIGIN.replace('https:', 'wss:')}/mqtt`, {
  username: `${TENANT}/${DEVICE}`,
  password: token,
  ca,
  reconnectPeriod: 0,
  // Mosquitto lets a device's login use its own name as client id only (ADR 020).
  clientId: `${TENANT}/${DEVICE}`,
});
const topic = (type) => `tenant/${TENANT}/device/${DEVICE}/${type}`;
await device.publishAsync(topic('heartbeat'), JSON.stringify({ site_id: SITE }), { qos: 1 });
await device.publishAsync(topic('telemetry'), JSON.stringify({ site_id: SITE, metrics: { temp_c: 21.5 } }), {
  qos: 1,
});
await device.endAsync();
console.log('smoke: the device sent a heartbeat and telemetry over wss:// and went silent');

while (!alerts.some((a) => a.alert_type === 'NO_HEARTBEAT' && a.device_id === DEVICE)) {
  await sleep(250);
}
console.log(`smoke: NO_HEARTBEAT for ${TENANT}/${DEVICE} reached the webhook`);
console.log('smoke: round trip ok');
webhook.close();
process.exit(0);
