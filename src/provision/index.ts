// The provision role: the X-Admin-Key device API and device activation, on the shared HTTP server.
import type { RoleDeps, RunningRole } from '../roles.js';
import { Allowlist } from '../lib/ssrf.js';
import { registerDeliveryAdminRoutes } from './delivery-admin.js';
import { registerProvisioningRoutes } from './routes.js';
import { createProvisioning } from './service.js';

export function start(deps: RoleDeps): RunningRole {
  const provisioning = createProvisioning(deps.db, {
    activationTtlMinutes: deps.config.ACTIVATION_TTL_MINUTES,
    logins: deps.brokerLogins,
    onDeviceChanged: (tenant_id, device_id) => deps.bus.publish('device.changed', { tenant_id, device_id }),
  });
  const counters = registerProvisioningRoutes(deps.http.app, {
    provisioning,
    adminKey: deps.adminKey,
    activationFailureLimit: deps.config.ACTIVATION_FAILURE_LIMIT,
    activationFailureWindowSeconds: deps.config.ACTIVATION_FAILURE_WINDOW_SECONDS,
    registerMore: (admin) =>
      registerDeliveryAdminRoutes(admin, {
        db: deps.db,
        secrets: deps.secrets,
        rules: { allowlist: new Allowlist(deps.config.SSRF_ALLOWLIST), requireHttps: deps.config.MODE === 'PROD' },
      }),
  });
  return {
    name: 'provision',
    health: () => ({ status: 'ok', ...counters }),
    stop: async () => undefined,
  };
}
