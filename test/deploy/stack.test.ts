// The deployable stack (issue 16 item 5), checked as far as this machine can without a container
// engine: the compose file is valid for docker-compose and names every role as its own service with the
// same command deploy/smoke.sh runs; the Caddyfile is valid for Caddy; the Dockerfile copies what exists
// and runs as a non-root user with a health check; and deploy/smoke.sh's round trip through the same
// topology as local processes passes.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROLE_NAMES } from '../../src/roles.js';

const run = promisify(execFile);

describe('the deployable stack', () => {
  it('is a compose file docker-compose accepts, with each role a service running `pulse run <role>`', async () => {
    const { stdout } = await run('docker-compose', [
      '-f',
      'deploy/compose.yaml',
      '--env-file',
      'deploy/.env.example',
      'config',
    ]);
    for (const role of ROLE_NAMES) {
      const service = stdout.match(new RegExp(`\\n  ${role}:\\n([\\s\\S]*?)(?=\\n  [a-z0-9-]+:\\n|\\nvolumes:)`));
      expect(service, `service ${role}`).not.toBeNull();
      expect(service![1]).toMatch(new RegExp(`command:\\n\\s+- run\\n\\s+- ${role}\\n`));
      expect(service![1]).toContain('MQTT_BROKER_AUTH: dynsec');
    }
    for (const service of ['postgres', 'mosquitto', 'nats-1', 'nats-2', 'nats-3', 'caddy', 'migrate'])
      expect(stdout).toContain(`\n  ${service}:\n`);
    // smoke.sh starts the same roles with the same command.
    const smoke = readFileSync('deploy/smoke.sh', 'utf8');
    const started = smoke.match(/^for role in ([a-z ]+); do$/m)?.[1]?.split(' ');
    expect(started?.sort()).toEqual([...ROLE_NAMES].sort());
    expect(smoke).toContain('node bin/pulse.js run "$role"');
  });

  it('refuses to configure without the secrets it needs, naming them', async () => {
    const empty = path.join(mkdtempSync(path.join(os.tmpdir(), 'pulse-env-')), '.env');
    writeFileSync(empty, '');
    const failed = await run('docker-compose', ['-f', 'deploy/compose.yaml', '--env-file', empty, 'config']).catch(
      (error: { stderr: string }) => error,
    );
    expect('stderr' in failed && failed.stderr).toMatch(/set \w+ in deploy\/\.env/);
  });

  it('has a Caddyfile Caddy validates', async () => {
    const { stdout, stderr } = await run('caddy', [
      'validate',
      '--config',
      'deploy/Caddyfile',
      '--adapter',
      'caddyfile',
    ]);
    expect(`${stdout}${stderr}`).toContain('Valid configuration');
  });

  it('has a Dockerfile that copies what exists, builds the web app in, and runs as non-root with a health check', () => {
    const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of sources!.split(' ')) expect(existsSync(source), source).toBe(true);
    }
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
    expect(dockerfile).toContain('COPY --from=build /src/web/dist ./web/dist');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
  });

  it(
    'carries a device→alert→webhook round trip through Caddy, Mosquitto with dynsec, NATS and six role processes',
    { timeout: 240_000 },
    async () => {
      const { stdout } = await run('bash', ['deploy/smoke.sh'], { timeout: 230_000, maxBuffer: 16 * 1024 * 1024 });
      expect(stdout).toContain('registered and activated through Caddy');
      expect(stdout).toContain('over wss://');
      expect(stdout).toContain('round trip ok');
    },
  );
});
