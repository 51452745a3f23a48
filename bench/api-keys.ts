// What an API key costs a request: `npm run bench:api-keys -- [--engine postgres|pglite] [--calls 2000]
// [--keys 200]`. One Pulse in this process answers GET /api/v2/alert-rules `calls` times, in turns, with a
// signed-in user's JWT and with an API key (its lookup cached, and its uses counted), then with `keys`
// different keys in rotation (a lookup each time a key's 5 s cache has lapsed; here each key's first call).
// Then the key check alone, in this process: a cached key, and a key looked up every time (no cache).
// Prints p50/p95 latency and requests per second of each and writes bench/results/api-keys-*.json.
import { createLogger } from '../src/app/log.js';
import { apiKeyVerifier } from '../src/api/api-keys.js';
import { findKeyBySecret, recordKeyUses } from '../src/model/api-keys.js';
import { tokenFor } from '../test/helpers/identity.js';
import { startTestPlatform } from '../test/helpers/platform.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const ENGINE = (args.get('engine') ?? 'postgres') as 'postgres' | 'pglite';
const CALLS = Number(args.get('calls') ?? 2000);
const KEYS = Number(args.get('keys') ?? 200);

const percentile = (values: number[], p: number) =>
  Math.round(
    ([...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN) * 100,
  ) / 100;

const pulse = await startTestPlatform(ENGINE, { API_RATE_LIMIT: '100000000', API_CHECK_RESPONSES: 'off' }, ['api']);
const result: Record<string, unknown> = { engine: ENGINE, calls: CALLS, keys: KEYS };
try {
  const jwt = await tokenFor(pulse, { username: 'bench-admin', role: 'customer_admin', tenantId: 'bench' }, 3600);
  const newKey = async (name: string) =>
    (
      await pulse.call('/customer/api-keys', {
        admin: false,
        headers: { authorization: `Bearer ${jwt}` },
        json: { name, role: 'customer_viewer' },
      })
    ).body.secret as string;
  const key = await newKey('bench');
  const rotation: string[] = [];
  for (let i = 0; i < KEYS; i += 1) rotation.push(await newKey(`bench-${i}`));

  const time = async (credential: (i: number) => string) => {
    const samples: number[] = [];
    const started = performance.now();
    for (let i = 0; i < CALLS; i += 1) {
      const at = performance.now();
      const response = await fetch(`${pulse.base}/api/v2/alert-rules`, {
        headers: { authorization: `Bearer ${credential(i)}` },
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`answered ${response.status}`);
      samples.push(performance.now() - at);
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      p50_ms: percentile(samples, 0.5),
      p95_ms: percentile(samples, 0.95),
      per_second: Math.round(CALLS / seconds),
    };
  };
  await time(() => jwt); // warm-up
  result.jwt = await time(() => jwt);
  result.api_key = await time(() => key);
  result.api_key_rotating = await time((i) => rotation[i % KEYS]!);
  // The check alone: microseconds per verify, from the cache and with a lookup each time.
  const checkCost = async (recheckMs: number, rounds: number) => {
    const verifier = apiKeyVerifier({
      find: (sha256) => pulse.db.withService((tx) => findKeyBySecret(tx, sha256)),
      recordUses: (uses) => pulse.db.withService((tx) => recordKeyUses(tx, uses)),
      log: createLogger('silent', { pretty: false }),
      recheckMs,
    });
    const started = performance.now();
    for (let i = 0; i < rounds; i += 1) await verifier.verify(key, '127.0.0.1');
    const perCall = ((performance.now() - started) * 1000) / rounds;
    await verifier.stop();
    return Math.round(perCall * 10) / 10;
  };
  result.verify_cached_us = await checkCost(60_000, 20_000);
  result.verify_lookup_us = await checkCost(-1, 500);
  for (const name of ['jwt', 'api_key', 'api_key_rotating', 'verify_cached_us', 'verify_lookup_us'])
    console.log(name.padEnd(18), JSON.stringify(result[name]));
  saveResult('api-keys', result);
} finally {
  await pulse.close();
}
