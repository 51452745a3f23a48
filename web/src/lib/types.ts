// The API's answers and the live WebSocket's messages as the pages use them, all taken from the types
// generated from /api/docs/json (./api.gen.ts, `npm run api:types`): none is written by hand, so a changed
// API fails the type check.
import type { FetchResponse } from 'openapi-fetch';
import type { components, paths } from './api.gen';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * What a successful call of `route` (as documented, e.g. '/api/v2/devices/{device_id}') answers, exactly as
 * the client (./api.ts) gives it.
 */
export type Answer<Route extends keyof paths, M extends Method = 'get'> = NonNullable<
  FetchResponse<NonNullable<paths[Route][M]>, object, 'application/json'>['data']
>;

/** The query a GET of `route` takes. */
export type Query<Route extends keyof paths> = NonNullable<
  paths[Route]['get'] extends { parameters: { query?: infer Q } } ? Q : never
>;

/** The JSON body a call of `route` takes. */
export type Body<Route extends keyof paths, M extends Method> = paths[Route][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** What a user or token may do: the `role` claim of Pulse's tokens. */
export type Role = components['schemas']['Role'];

/** A message the live WebSocket sends, and one a client sends it. */
export type LiveFrame = components['schemas']['LiveFrame'];
export type LiveRequest = components['schemas']['LiveRequest'];

/** A time range a request asks for: from `start` to `end`, or to now. */
export type Span = { start: string; end?: string };

export type Alert = Answer<'/customer/alerts'>['alerts'][number];
export type Rule = Answer<'/customer/alert-rules'>['rules'][number];
export type Integration = Answer<'/customer/integrations'>['integrations'][number];
export type Command = Answer<'/customer/devices/{device_id}/commands'>['commands'][number];
export type DeviceConfig = Answer<'/customer/devices/{device_id}/config'>;
export type Job = Answer<'/customer/jobs/{job_id}'>;
export type Execution = Answer<'/customer/jobs/{job_id}/executions'>['executions'][number];
export type FirmwareImage = Answer<'/customer/firmware'>['images'][number];
