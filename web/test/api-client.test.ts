// @vitest-environment happy-dom
// The typed client sends the signed-in user's token, builds paths and queries from their parameters, turns a
// refusal into the API's words, and after a 429 waits for Retry-After: a read goes again, a write fails.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, unwrap, useApiHealth } from '../src/lib/api';
import { useAuth } from '../src/lib/auth';

const sent: Request[] = [];

function answer(...responses: Response[]) {
  vi.stubGlobal('fetch', async (request: Request) => {
    sent.push(request);
    return responses.shift() ?? new Response(null, { status: 500 });
  });
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

beforeEach(() => {
  sent.length = 0;
  useApiHealth.setState({ pausedUntil: null, failing: false });
  useAuth.setState({
    session: {
      token: 'token-1',
      role: 'customer_admin',
      tenantId: 't1',
      name: 'ann',
      expiresAt: Date.now() + 3_600_000,
    },
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('the API client', () => {
  it('sends the token and the path and query its parameters make', async () => {
    answer(json(200, { device: { device_id: 'a b' } }));
    await unwrap(
      api.GET('/api/v2/devices/{device_id}/states', {
        params: { path: { device_id: 'a b' }, query: { metric: 'door', start: 'x' } },
      }),
    );
    const url = new URL(sent[0]!.url);
    expect(url.pathname).toBe('/api/v2/devices/a%20b/states');
    expect(url.search).toBe('?metric=door&start=x');
    expect(sent[0]!.headers.get('authorization')).toBe('Bearer token-1');
  });

  it('says a 403 is about access and lists the fields of a 422', async () => {
    answer(
      json(403, { detail: 'Customer admin role required' }),
      json(422, { detail: [{ loc: ['body', 'name'], msg: 'Field required', type: 'missing' }] }),
    );
    await expect(
      unwrap(api.DELETE('/customer/silences/{silence_id}', { params: { path: { silence_id: 's1' } } })),
    ).rejects.toThrow('You do not have access to this: Customer admin role required');
    const refused = await unwrap(api.POST('/customer/mqtt-readers', { body: { name: '' } })).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 422, message: 'name: Field required' });
  });

  it('answers a failure that is not JSON with its status text, and marks the API failing', async () => {
    answer(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    await expect(unwrap(api.GET('/customer/integrations'))).rejects.toMatchObject({
      status: 502,
      message: 'Bad Gateway',
    });
    expect(useApiHealth.getState().failing).toBe(true);
  });

  it('reads again after a 429 once Retry-After has passed', async () => {
    vi.useFakeTimers();
    answer(json(429, { detail: 'Too many requests' }, { 'retry-after': '2' }), json(200, { integrations: [] }));
    const read = unwrap(api.GET('/customer/integrations'));
    await vi.advanceTimersByTimeAsync(1900);
    expect(sent).toHaveLength(1);
    expect(useApiHealth.getState().pausedUntil).not.toBeNull();
    await vi.advanceTimersByTimeAsync(200);
    expect(await read).toEqual({ integrations: [] });
    expect(sent).toHaveLength(2);
    expect(useApiHealth.getState().pausedUntil).toBeNull();
  });

  it('fails a write refused with 429, saying when to try again, and pauses the next call', async () => {
    answer(json(429, { detail: 'Too many requests' }, { 'retry-after': '7' }));
    await expect(unwrap(api.POST('/customer/mqtt-readers', { body: { name: 'r1' } }))).rejects.toMatchObject({
      status: 429,
      message: 'Too many requests for now: try again in 7 s',
    });
    expect(sent).toHaveLength(1);
    expect(useApiHealth.getState().pausedUntil).toBeGreaterThan(Date.now() + 5000);
  });
});
