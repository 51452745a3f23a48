// Every documented route, on both engines, with a NUL in each path parameter and query value and an
// out-of-range integer in each path parameter and numeric query value: the answer is a 4xx whose detail
// says what to change, never a 500 (issue 36, item 9). Routes come from /api/docs/json, which lists every
// route but the docs' own pages and the built-in issuer's login pages (hidden, and reading no ids).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/databases.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string };
}

interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
}

/** Beyond a bigint, beyond JavaScript's safe integers, and below a bigint. */
const OUT_OF_RANGE = ['99999999999999999999', '9223372036854775808', '-9223372036854775809'];
const CONTROL = ['\u0000', 'a\u0001b', 'a\u009fb'];
const isNumeric = (parameter: Parameter) => ['integer', 'number'].includes(parameter.schema?.type ?? '');

/**
 * Each request of the walk: one parameter set to a hostile value, the others to plausible ones. A control
 * character is always refused, as is an out-of-range value of a numeric parameter; the same digits in a
 * text parameter (a device id) are a name like any other and may be found or not, but never a 500.
 */
function variants(operation: Operation): { url: string; what: string; refused: boolean }[] {
  const pathParams = [...operation.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
  const queryParams = operation.parameters.filter((parameter) => parameter.in === 'query');
  const declared = (name: string) =>
    operation.parameters.find((parameter) => parameter.name === name && parameter.in === 'path');
  const plausible = (name: string) =>
    declared(name) && isNumeric(declared(name)!) ? '1' : name === 'tenant_id' ? 'acme' : 'd1';
  const url = (hostile: { name: string; value: string } | undefined, query = '') =>
    operation.path.replace(/\{(\w+)\}/g, (_match, name: string) =>
      encodeURIComponent(name === hostile?.name ? hostile.value : plausible(name)),
    ) + query;
  return [
    ...pathParams.flatMap((name) => [
      ...CONTROL.map((value) => ({
        url: url({ name, value }),
        what: `path ${name}=${JSON.stringify(value)}`,
        refused: true,
      })),
      ...OUT_OF_RANGE.map((value) => ({
        url: url({ name, value }),
        what: `path ${name}=${value}`,
        refused: !!declared(name) && isNumeric(declared(name)!),
      })),
    ]),
    ...queryParams.flatMap((parameter) => [
      ...CONTROL.map((value) => ({
        url: url(undefined, `?${parameter.name}=${encodeURIComponent(value)}`),
        what: `query ${parameter.name}=${JSON.stringify(value)}`,
        refused: true,
      })),
      ...(isNumeric(parameter) ? OUT_OF_RANGE : []).map((value) => ({
        url: url(undefined, `?${parameter.name}=${value}`),
        what: `query ${parameter.name}=${value}`,
        refused: true,
      })),
    ]),
  ];
}

describe.each(ENGINES)('hostile path and query values on %s', (engine) => {
  let pulse: TestPlatform;
  let customer: string;
  let operator: string;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '1000000' });
    customer = await tokenFor(pulse, { username: 'walk-admin', role: 'customer_admin', tenantId: 'acme' });
    operator = await tokenFor(pulse, { username: 'walk-operator', role: 'operator_admin' });
  });
  afterAll(async () => {
    await pulse?.close();
  });

  it('answers every route with a 4xx and a message, never a 500', async () => {
    const doc = (await pulse.call('/api/docs/json', { admin: false })).body as {
      paths: Record<string, Record<string, { parameters?: Parameter[] }>>;
    };
    const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        parameters: operation.parameters ?? [],
      })),
    );
    const failures: string[] = [];
    let requests = 0;
    for (const operation of operations) {
      // Each family with the credential that gets past its authentication (and the admin key, which `call`
      // sends), so the values reach the handler.
      const token = operation.path.startsWith('/operator/') ? operator : customer;
      const hasBody = !['GET', 'HEAD', 'DELETE'].includes(operation.method);
      for (const { url, what, refused } of variants(operation)) {
        const response = await pulse.call(url, {
          method: operation.method,
          headers: {
            ...bearer(token),
            'x-provision-token': 'tok-walk',
            ...(hasBody && { 'content-type': 'application/json' }),
          },
          ...(hasBody && { body: '{}' }),
        });
        requests += 1;
        const detail = (response.body as { detail?: unknown } | undefined)?.detail;
        if (response.status >= 500 || (refused && (response.status < 400 || !detail)))
          failures.push(`${operation.method} ${operation.path} with ${what} → ${response.status} ${String(detail)}`);
      }
    }
    expect(requests).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  });
});
