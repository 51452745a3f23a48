// Provisioning and database benchmarks on both engines: `npm run bench`. Prints a table and writes
// bench/results/provisioning-<timestamp>.json. Numbers, not assertions: nothing here fails a build.
import { ENGINES } from '../test/helpers/databases.js';
import { startTestPlatform, type TestPlatform } from '../test/helpers/platform.js';
import { saveResult } from './results.js';

interface Measurement {
  engine: string;
  name: string;
  value: number;
  unit: string;
}

const results: Measurement[] = [];
const record = (engine: string, name: string, value: number, unit: string) => {
  results.push({ engine, name, value: Math.round(value * 10) / 10, unit });
  console.log(`${engine.padEnd(9)} ${name.padEnd(44)} ${String(Math.round(value * 10) / 10).padStart(10)} ${unit}`);
};

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

async function bulk(pulse: TestPlatform, tenant: string, count: number) {
  const devices = Array.from({ length: count }, (_, i) => ({
    tenant_id: tenant,
    device_id: `d-${i}`,
    site_id: `s-${i % 10}`,
  }));
  const [response, ms] = await timed(() => pulse.call('/api/admin/devices/bulk', { json: devices }));
  if (response.status !== 200) throw new Error(`bulk answered ${response.status}`);
  return { codes: response.body.devices as { device_id: string; activation_code: string }[], ms };
}

for (const engine of ENGINES) {
  const [pulse, startMs] = await timed(() =>
    startTestPlatform(engine, { ACTIVATION_FAILURE_LIMIT: '100000' }, ['provision']),
  );
  record(engine, 'start: connect + migrate from empty + listen', startMs, 'ms');
  try {
    const first = await bulk(pulse, 'bench-a', 10_000);
    record(engine, 'bulk register 10,000 devices (empty registry)', first.ms, 'ms');
    const again = await bulk(pulse, 'bench-a', 10_000);
    record(engine, 'bulk re-register the same 10,000', again.ms, 'ms');
    const second = await bulk(pulse, 'bench-b', 10_000);
    record(engine, 'bulk register 10,000 more (20,000 in registry)', second.ms, 'ms');

    for (const concurrency of [1, 16]) {
      const codes = second.codes.slice(concurrency === 1 ? 0 : 1000, concurrency === 1 ? 1000 : 3000);
      const queue = [...codes];
      const [, ms] = await timed(() =>
        Promise.all(
          Array.from({ length: concurrency }, async () => {
            for (let next = queue.shift(); next; next = queue.shift()) {
              const response = await pulse.call('/api/device/activate', {
                admin: false,
                json: { tenant_id: 'bench-b', device_id: next.device_id, activation_code: next.activation_code },
              });
              if (response.status !== 200) throw new Error(`activate answered ${response.status}`);
            }
          }),
        ),
      );
      record(engine, `activations, ${concurrency} client(s) in parallel`, (codes.length / ms) * 1000, 'per s');
    }

    const [, listMs] = await timed(() => pulse.call('/api/admin/devices?limit=1000'));
    record(engine, 'list 1,000 devices', listMs, 'ms');
  } finally {
    await pulse.close();
  }
}

saveResult('provisioning', { results });
