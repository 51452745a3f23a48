// What Pulse tells Mosquitto's dynamic-security plugin: per-device ACLs, the service login derived from
// the admin's, and what a reconcile changes.
import { describe, expect, it } from 'vitest';
import {
  adminCredentials,
  deviceAcls,
  type DeviceLogin,
  reconcileActions,
  servicePassword,
  serviceUrl,
} from '../../src/broker/dynsec.js';

describe('dynsec logins', () => {
  it('lets a device publish to its own topics and subscribe to its own commands only', () => {
    expect(deviceAcls('t1', 'd1')).toEqual([
      { acltype: 'publishClientSend', topic: 'tenant/t1/device/d1/+', allow: true },
      { acltype: 'subscribePattern', topic: 'tenant/t1/device/d1/commands/#', allow: true },
    ]);
  });

  it('derives one service password per admin password, the same in every process', () => {
    expect(servicePassword('a')).toBe(servicePassword('a'));
    expect(servicePassword('a')).not.toBe(servicePassword('b'));
    const url = new URL(serviceUrl('mqtt://admin:s%40cret@broker:1883'));
    expect(url.username).toBe('pulse-service');
    expect(decodeURIComponent(url.password)).toBe(servicePassword('s@cret'));
    expect(url.host).toBe('broker:1883');
  });

  it('needs the admin in MQTT_URL', () => {
    expect(adminCredentials('mqtt://broker:1883')).toMatch(/needs the dynamic-security admin/);
    expect(adminCredentials('mqtt://admin:pw@broker:1883')).toEqual({ username: 'admin', password: 'pw' });
  });

  it('disables logins of revoked or unknown devices, enables ACTIVE ones, binds client ids, names ACTIVE devices without a login', () => {
    const registry = [
      { tenant_id: 't', device_id: 'active', status: 'ACTIVE', token_set: true },
      { tenant_id: 't', device_id: 'was-disabled', status: 'ACTIVE', token_set: true },
      { tenant_id: 't', device_id: 'revoked', status: 'REVOKED', token_set: false },
      { tenant_id: 't', device_id: 'no-login', status: 'ACTIVE', token_set: true },
      { tenant_id: 't', device_id: 'not-activated', status: 'ACTIVE', token_set: false },
    ];
    const login = (username: string, disabled: boolean) => [username, { disabled, clientId: username }] as const;
    const logins = new Map<string, DeviceLogin>([
      login('t/active', false),
      login('t/was-disabled', true),
      login('t/revoked', false),
      login('t/deleted', false),
      login('t/deleted-disabled', true),
      ['t/unbound', { disabled: false, clientId: undefined }] as const, // made before client ids were bound
      ['t/alerts/scada', { disabled: false, clientId: undefined }] as const, // a reader: bound, never disabled
    ]);
    expect(reconcileActions([...registry, { ...registry[0]!, device_id: 'unbound' }], logins)).toEqual({
      disable: ['t/revoked', 't/deleted'],
      enable: ['t/was-disabled'],
      withoutLogin: ['t/no-login'],
      unbound: ['t/unbound', 't/alerts/scada'],
    });
  });
});
