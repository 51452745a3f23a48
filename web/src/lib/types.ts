// The API's answers as the pages use them, all taken from the types generated from /api/docs/json
// (./api.gen.ts, `npm run api:types`): none is written by hand, so a changed API fails the type check.
import type { paths } from './api.gen';

type Method = 'get' | 'post' | 'patch' | 'delete';
type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never;

/** The JSON a successful call of `route` (as documented, e.g. '/api/v2/devices/{device_id}') answers. */
export type Answer<Route extends keyof paths, M extends Method = 'get'> = paths[Route][M] extends {
  responses: infer R;
}
  ? R extends { 200: infer Ok }
    ? Json<Ok>
    : R extends { 201: infer Created }
      ? Json<Created>
      : never
  : never;

export type DeviceList = Answer<'/api/v2/devices'>;
export type Alert = Answer<'/customer/alerts'>['alerts'][number];
export type Rule = Answer<'/customer/alert-rules'>['rules'][number];
export type Summary = Answer<'/api/v2/telemetry/summary'>;
export type Integration = Answer<'/customer/integrations'>['integrations'][number];
export type Command = Answer<'/customer/devices/{device_id}/commands'>['commands'][number];
export type CommandTemplate = Answer<'/customer/command-templates'>['templates'][number];
export type DeviceConfig = Answer<'/customer/devices/{device_id}/config'>;
export type Job = Answer<'/customer/jobs/{job_id}'>;
export type Execution = Answer<'/customer/jobs/{job_id}/executions'>['executions'][number];
export type FirmwareImage = Answer<'/customer/firmware'>['images'][number];
