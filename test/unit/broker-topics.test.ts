// Which subscriptions the embedded broker refuses: any filter that could match a device topic, whose
// payloads carry provision tokens.
import { describe, expect, it } from 'vitest';
import { mayMatchDeviceTopic } from '../../src/broker/embedded.js';

describe('subscriptions that could read device topics', () => {
  it('are the filters that match tenant/<t>/device/<d>/<type>', () => {
    for (const filter of [
      '#',
      '+/#',
      '+/+/+/+/+',
      'tenant/#',
      'tenant/+/device/+/+',
      'tenant/acme/device/d1/telemetry',
      'tenant/acme/#',
      'tenant/+/device/#',
      'tenant/+/+/+/+',
      'tenant/+/device/+/+/#',
    ])
      expect(mayMatchDeviceTopic(filter), filter).toBe(true);
  });

  it('and no others', () => {
    for (const filter of [
      'alerts/#',
      'site/+/status',
      'tenant/acme/device/d1',
      'tenant/+/device/+/+/+',
      'tenants/#',
      'tenant/acme/sensor/#',
      '+/+/+/+',
      '$SYS/#',
    ])
      expect(mayMatchDeviceTopic(filter), filter).toBe(false);
  });
});
