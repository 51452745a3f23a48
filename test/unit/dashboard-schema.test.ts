// The dashboard document's check (issue 32): defaults filled in, the built-in dashboard valid, and every
// kind of mistake refused (VALIDATION_FAILED: a 422) whose message and loc name the path; what live mode follows.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { checkDashboard, liveFollows, resolveRange } from '../../src/model/dashboard-schema.js';
import { DEFAULT_DASHBOARD } from '../../src/model/dashboards.js';

const stat = { id: 'w', type: 'stat', layout: { x: 0, y: 0, w: 3, h: 2 }, options: { metric: 'temp_c' } };
const doc = (fields: Record<string, unknown> = {}) => ({ version: 1, name: 'Board', widgets: [stat], ...fields });

function refusal(input: unknown): { path: string; msg: string } {
  try {
    checkDashboard(input);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('VALIDATION_FAILED');
    const [detail] = error.extra.detail as { loc: string[]; msg: string }[];
    return { path: `/${detail!.loc.slice(1).join('/')}`, msg: detail!.msg };
  }
  throw new Error('accepted');
}

describe('checkDashboard', () => {
  it('fills in the defaults of the document and of each widget type', () => {
    const checked = checkDashboard(doc());
    expect(checked).toMatchObject({
      description: '',
      time: { from: 'now-24h', to: 'now' },
      refresh_seconds: 60,
      variables: [],
      widgets: [{ title: '', options: { metric: 'temp_c', stat: 'avg', thresholds: [] } }],
    });
  });

  it('accepts the built-in dashboard as it is', () => {
    expect(checkDashboard(DEFAULT_DASHBOARD)).toEqual(DEFAULT_DASHBOARD);
  });

  it.each([
    [doc({ version: 2 }), '/version', 'schema version 2'],
    [doc({ name: '' }), '/name', 'length'],
    [doc({ extra: 1 }), '/extra', 'Unexpected property'],
    [doc({ widgets: [{ ...stat, type: 'pie' }] }), '/widgets/0/type', 'timeseries, stat'],
    [doc({ widgets: [{ ...stat, options: { metric: 'a b' } }] }), '/widgets/0/options/metric', "fleet's counts"],
    [doc({ widgets: [{ ...stat, options: { metric: 'x', colour: 1 } }] }), '/widgets/0/options/colour', 'Unexpected'],
    [
      doc({ widgets: [{ ...stat, options: { metric: 'x', thresholds: [{ value: 1, color: 'red' }] } }] }),
      '/widgets/0/options/thresholds/0/color',
      '#rrggbb',
    ],
    [doc({ widgets: [stat, stat] }), '/widgets/1/id', 'another widget'],
    [doc({ widgets: [{ ...stat, layout: { x: 11, y: 0, w: 2, h: 1 } }] }), '/widgets/0/layout', 'x + w'],
    [doc({ widgets: [{ ...stat, options: { metric: 'x', device: '$device' } }] }), '/widgets/0/options', 'no device'],
    [
      doc({ widgets: [{ ...stat, type: 'bar', options: { group_by: 'site' } }] }),
      '/widgets/0/options/metric',
      'needs a metric',
    ],
    [doc({ time: { from: 'yesterday', to: 'now' } }), '/time/from', 'now-<n>'],
    [doc({ time: { from: 'now-1000d', to: 'now' } }), '/time/from', '731 days'],
    [[], '/', 'object'],
  ])('refuses %j at %s', (input, path, words) => {
    const { path: where, msg } = refusal(input);
    expect(where).toBe(path);
    expect(msg).toContain(`Invalid dashboard at ${path}:`);
    expect(msg).toContain(words);
  });
});

describe('resolveRange', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  it('reads relative and absolute ends', () => {
    expect(resolveRange({ from: 'now-90m', to: 'now' }, now)).toEqual({
      start: new Date('2026-12-01T10:30:00Z'),
      end: now,
    });
    expect(resolveRange({ from: '2026-11-01T00:00:00Z', to: 'now-1d' }, now)).toEqual({
      start: new Date('2026-11-01T00:00:00Z'),
      end: new Date('2026-11-30T12:00:00Z'),
    });
  });
});

describe('liveFollows', () => {
  const at = { x: 0, y: 0, w: 3, h: 2 };
  const follows = (widgets: unknown[], device?: string) =>
    liveFollows(checkDashboard({ ...doc({ widgets }), variables: ['device'] }), device);

  it('follows the devices widgets name, $device as the chosen one, and nothing of the fleet', () => {
    const named = [
      { id: 'a', type: 'timeseries', layout: at, options: { metrics: ['t'], devices: ['d1', '$device'] } },
      { id: 'b', type: 'states', layout: at, options: { device: 'd2', metric: 'door' } },
      { id: 'c', type: 'text', layout: at, options: { markdown: 'x' } },
    ];
    expect(follows(named, 'd3')).toEqual({ devices: new Set(['d1', 'd3', 'd2']), fleet: false, alerts: false });
    expect(follows(named).devices).toEqual(new Set(['d1', 'd2']));
  });

  it('follows the fleet for fleet-wide widgets and alerts for alert lists and open-alert counts', () => {
    expect(follows([stat])).toMatchObject({ fleet: true, alerts: false });
    expect(follows([{ id: 'm', type: 'map', layout: at, options: {} }])).toMatchObject({ fleet: true });
    expect(follows([{ id: 'a', type: 'alerts', layout: at, options: {} }])).toMatchObject({
      fleet: false,
      alerts: true,
    });
    expect(follows([{ ...stat, options: { metric: 'fleet:open_alerts' } }])).toMatchObject({
      fleet: false,
      alerts: true,
    });
  });
});
