import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, variables } from '../../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('defaults to DEV on embedded PGlite and the embedded broker', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      MODE: 'DEV',
      PORT: 8080,
      MQTT_PORT: 1883,
      PULSE_DATA_DIR: './.pulse',
      LOG_LEVEL: 'info',
      ACTIVATION_TTL_MINUTES: 60,
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.MQTT_URL).toBeUndefined();
    expect(config.ADMIN_KEY).toBeUndefined();
  });

  it('reads and coerces values', () => {
    const config = loadConfig({
      PORT: '9090',
      MODE: 'PROD',
      ADMIN_KEY: 'a-long-enough-admin-key',
      SECRETS_KEY: 'ab'.repeat(32),
      MQTT_URL: 'mqtt://127.0.0.1:1883',
    });
    expect(config.PORT).toBe(9090);
    expect(config.MODE).toBe('PROD');
    expect(config.MQTT_URL).toBe('mqtt://127.0.0.1:1883');
  });

  it('names the variable and what is allowed for a bad enum value', () => {
    expect(problemsOf({ MODE: 'dev' })).toEqual(['MODE must be one of DEV, PROD (got "dev")']);
  });

  it('rejects a port out of range and a non-number', () => {
    expect(problemsOf({ PORT: '70000' })).toEqual(['PORT must be at most 65535 (got "70000")']);
    expect(problemsOf({ MQTT_PORT: 'abc' })[0]).toMatch(/^MQTT_PORT must be a number/);
  });

  it('requires ADMIN_KEY and SECRETS_KEY in PROD and never supplies a default one', () => {
    expect(problemsOf({ MODE: 'PROD' })).toEqual([
      'ADMIN_KEY is required when MODE=PROD',
      'SECRETS_KEY is required when MODE=PROD',
    ]);
    expect(problemsOf({ SECRETS_KEY: 'too-short' })).toEqual([
      'SECRETS_KEY must be 64 hex characters or base64 of 32 bytes',
    ]);
    expect(problemsOf({ ADMIN_KEY: 'short' })).toEqual(['ADMIN_KEY must be at least 16 characters']);
  });

  it('checks URL schemes', () => {
    expect(problemsOf({ DATABASE_URL: 'mysql://x/y' })[0]).toMatch(
      /^DATABASE_URL must be a URL starting with postgres:/,
    );
    expect(problemsOf({ MQTT_URL: 'http://broker' })[0]).toMatch(/^MQTT_URL must be a URL starting with mqtt:/);
  });

  it('takes a map tile URL template and names what a bad one lacks', () => {
    const template = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
    expect(loadConfig({ MAP_TILE_URL: template }).MAP_TILE_URL).toBe(template);
    expect(problemsOf({ MAP_TILE_URL: 'https://tile.openstreetmap.org/tiles.png' })).toEqual([
      'MAP_TILE_URL must be an http(s) URL, or a path on this server, with {z}, {x} and {y} (got "https://tile.openstreetmap.org/tiles.png")',
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).PORT).toBe(8080);
  });

  it('reports every bad variable, one line each', () => {
    expect(problemsOf({ MODE: 'x', LOG_LEVEL: 'loud' })).toHaveLength(2);
  });

  it('documents every variable', () => {
    for (const [name, variable] of Object.entries(variables)) {
      expect(variable.doc.length, name).toBeGreaterThan(10);
    }
  });
});
