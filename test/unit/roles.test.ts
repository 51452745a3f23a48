import { describe, expect, it } from 'vitest';
import { missingInputs, ROLE_NAMES } from '../../src/roles.js';

describe('missingInputs (pulse run without NATS)', () => {
  it('accepts every role together, and roles that hear nobody', () => {
    expect(missingInputs(ROLE_NAMES)).toBeUndefined();
    expect(missingInputs(['provision'])).toBeUndefined();
    expect(missingInputs(['delivery', 'provision'])).toBeUndefined();
  });

  it('names what an evaluator without ingest would never hear', () => {
    const problem = missingInputs(['evaluator', 'provision', 'api']);
    expect(problem).toMatch(/evaluator needs stored messages from ingest/);
    expect(problem).toMatch(/set NATS_URL/);
  });

  it('names each missing source once per role that needs it', () => {
    const problem = missingInputs(['dispatcher', 'api'])!;
    expect(problem).toContain('dispatcher needs alert changes from evaluator');
    expect(problem).toContain('api needs live telemetry from ingest');
    expect(problem).not.toContain('dispatcher needs alerts closed by hand');
  });
});
