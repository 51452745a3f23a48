import { describe, expect, it } from 'vitest';
import { memberText } from '../../src/ingest/json-member.js';
import { seededRandom } from '../../src/simulator/device-model.js';

describe('memberText', () => {
  it('cuts out the metrics of a device message as sent', () => {
    const text =
      '{"ts":"2026-02-07T10:00:00Z","site_id":"lab-1","seq":120,"metrics":{"battery_pct":87.12,"uplink_ok":true}}';
    expect(memberText(text, 'metrics')).toBe('{"battery_pct":87.12,"uplink_ok":true}');
  });

  it('skips strings that look like members, nested values and whitespace', () => {
    const text = ` { "note" : "a \\"metrics\\": {\\"x\\":1} }\\\\" , "nested": {"metrics": {"inner": 1}, "list": [1, {"}": "]"}]},
      "metrics" :  {"a" : 1 ,
      "b": -2.5e3}  }`;
    expect(JSON.parse(memberText(text, 'metrics')!)).toEqual({ a: 1, b: -2500 });
  });

  it('takes the last of duplicate members, as JSON.parse and jsonb do', () => {
    expect(memberText('{"metrics":{"a":1},"metrics":{"b":2}}', 'metrics')).toBe('{"b":2}');
  });

  it('gives up when there is no such member or a key is written with escapes', () => {
    expect(memberText('{"seq":1}', 'metrics')).toBeUndefined();
    expect(memberText('{"metric\\u0073":{"a":1}}', 'metrics')).toBeUndefined();
    expect(memberText('[1,2]', 'metrics')).toBeUndefined();
    expect(memberText('{"metrics":null}', 'metrics')).toBe('null');
  });

  it('agrees with JSON.parse on generated payloads', () => {
    const random = seededRandom(7);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
    const strings = [
      '',
      'plain',
      'quote " inside',
      'back\\slash\\',
      '{"metrics":{}}',
      'brace } ] [ {',
      'tab\tnew\nline',
    ];
    const value = (depth: number): unknown => {
      const kind = Math.floor(random() * (depth > 2 ? 4 : 6));
      if (kind === 0) return pick(strings);
      if (kind === 1) return Math.round((random() - 0.5) * 1e6) / 100;
      if (kind === 2) return pick([true, false, null]);
      if (kind === 3) return -0.000123;
      if (kind === 4) return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 3) }, (_, i) => [`k${i}`, value(depth + 1)]),
      );
    };
    for (let i = 0; i < 500; i++) {
      const payload: Record<string, unknown> = {};
      const keys = ['ts', 'site_id', 'seq', 'provision_token', 'metrics', 'extra'].sort(() => random() - 0.5);
      for (const key of keys) payload[key] = key === 'metrics' ? { a: random(), ok: random() > 0.5 } : value(0);
      const text = JSON.stringify(payload, null, i % 3 === 0 ? 2 : undefined);
      expect(JSON.parse(memberText(text, 'metrics')!)).toEqual(payload.metrics);
    }
  });
});
