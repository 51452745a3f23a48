// `pulse device …`, `pulse command …`, `pulse job …`, `pulse user …` and `pulse token`: an operator's work on
// the configured database, run here or — when a running Pulse owns the embedded database — inside it
// (ADR 017, app/commands.ts).
import { Option, type Command } from 'commander';
import { AppError } from '../../errors.js';
import { PASSWORD_RULES } from '../../identity/passwords.js';
import { textTable } from '../../lib/text-table.js';
import { ROLES, type Role } from '../../model/users.js';
import type { CommandName, CommandOutput } from '../commands.js';
import { embeddedDatabaseOwner, loadConfigOrExit, positiveInt, withDatabase } from './common.js';

// A registrar, like the API's route registrars: the group's commands one after another, as commander declares them.
export function addAdminCommands(program: Command): void {
  const device = program
    .command('device')
    .description('register, list and revoke devices (the provisioning API, from the shell)');

  device
    .command('create')
    .description('register a device (or re-register it) and print its one-time activation code')
    .requiredOption('--tenant <tenant_id>')
    .requiredOption('--device <device_id>')
    .requiredOption('--site <site_id>')
    .option('--fw-version <version>')
    .option('--metadata <json>', 'JSON object stored with the device', '{}')
    .action((options: { tenant: string; device: string; site: string; fwVersion?: string; metadata: string }) =>
      runCommand('device create', options),
    );

  device
    .command('list')
    .description('list registered devices')
    .option('--tenant <tenant_id>')
    .option('--site <site_id>')
    .addOption(new Option('--status <status>').choices(['ACTIVE', 'REVOKED', 'PENDING']))
    .option('--limit <n>', 'at most this many', positiveInt, 200)
    .action((options: { tenant?: string; site?: string; status?: string; limit: number }) =>
      runCommand('device list', options),
    );

  device
    .command('revoke')
    .description('revoke a device: its token stops working and its unused activation codes are retired')
    .argument('<tenant_id>')
    .argument('<device_id>')
    .action((tenant: string, device: string) => runCommand('device revoke', { tenant, device }));

  const command = program
    .command('command')
    .description("send a device commands and see its answers (docs/commands.md); an operator's work in the tenant");

  command
    .command('send')
    .description(
      'send a device a command: it waits QUEUED until the device is connected; prints the command, with --wait its answer',
    )
    .argument('<tenant_id>')
    .argument('<device_id>')
    .argument('<name>', 'what the device switches on: ping, reboot, set_interval…')
    .option('--params <json>', 'its parameters, any JSON, e.g. \'{"seconds": 30}\'', '{}')
    .option('--expires <seconds>', 'how long it may wait for its device (default: a day)', positiveInt)
    .option('--wait <seconds>', 'wait up to this long (≤ 300) for the answer', positiveInt, 0)
    .action(
      (tenant: string, device: string, name: string, options: { params: string; expires?: number; wait: number }) =>
        runCommand('command send', { tenant, device, name, ...options }),
    );

  command
    .command('list')
    .description("a device's commands, newest first, with their state and answer")
    .argument('<tenant_id>')
    .argument('<device_id>')
    .option('--limit <n>', 'at most this many', positiveInt, 20)
    .action((tenant: string, device: string, options: { limit: number }) =>
      runCommand('command list', { tenant, device, limit: options.limit }),
    );

  const job = program
    .command('job')
    .description("a tenant's fleet jobs (started through the API, POST /customer/jobs): list, show, cancel");

  job
    .command('list')
    .description("the tenant's jobs, newest first, with how many devices succeeded, failed and are left")
    .argument('<tenant_id>')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .action((tenant: string, options: { limit: number }) => runCommand('job list', { tenant, limit: options.limit }));

  job
    .command('show')
    .description('a job, its progress and its first 100 devices with their outcome')
    .argument('<tenant_id>')
    .argument('<job_id>')
    .action((tenant: string, id: string) => runCommand('job show', { tenant, job: id }));

  job
    .command('cancel')
    .description('cancel a running job: devices not started are withdrawn, and so are commands not yet confirmed')
    .argument('<tenant_id>')
    .argument('<job_id>')
    .action((tenant: string, id: string) => runCommand('job cancel', { tenant, job: id }));

  const user = program
    .command('user')
    .description("manage the built-in issuer's users (logins of the web app and the API)");

  user
    .command('create')
    .description('create a user; customers belong to one tenant, operators to none')
    .requiredOption('--username <name>')
    .addOption(new Option('--role <role>').choices([...ROLES]).makeOptionMandatory())
    .option('--tenant <tenant_id>', 'required for customer_viewer and customer_admin')
    .requiredOption('--password <password>', PASSWORD_RULES)
    .option('--email <email>')
    .action((options: { username: string; role: Role; tenant?: string; password: string; email?: string }) =>
      runCommand('user create', options),
    );

  user
    .command('list')
    .description('list users')
    .action(() => runCommand('user list', {}));

  user
    .command('delete')
    .description('delete a user; their sessions stop working')
    .argument('<username>')
    .action((username: string) => runCommand('user delete', { username }));

  user
    .command('passwd')
    .description("set a user's password")
    .argument('<username>')
    .requiredOption('--password <password>', PASSWORD_RULES)
    .action((username: string, options: { password: string }) =>
      runCommand('user passwd', { username, password: options.password }),
    );

  program
    .command('token')
    .description('print an access token of a user of the built-in issuer (for scripts and tests)')
    .argument('<username>')
    .option('--ttl <seconds>', 'lifetime of the token', positiveInt)
    .action((username: string, options: { ttl?: number }) => runCommand('token', { username, ttl: options.ttl }));
}

/**
 * Runs one of the CLI's database commands and prints what it returns: on the configured database, or,
 * when a running Pulse owns the embedded database, inside that process (ADR 017).
 */
async function runCommand(name: CommandName, args: Record<string, unknown>) {
  const cfg = await loadConfigOrExit();
  const owner = await embeddedDatabaseOwner(cfg);
  let output: CommandOutput | undefined;
  if (owner !== undefined) {
    const { runThroughOwner } = await import('../control.js');
    output = await runThroughOwner(cfg.PULSE_DATA_DIR, name, args);
    if (!output) {
      throw new AppError(
        'CONFLICT',
        `the embedded database in ${cfg.PULSE_DATA_DIR} is in use by Pulse (pid ${owner}), which is still starting: try again in a moment`,
      );
    }
  } else {
    const { run } = await import('../control.js');
    const { resolveSecretsKey } = await import('../data-dir.js');
    const { createSecretBox } = await import('../../lib/secrets.js');
    output = await withDatabase(cfg, (db) =>
      run(name, { db, config: cfg, secrets: createSecretBox(resolveSecretsKey(cfg)) }, args),
    );
  }
  if ('lines' in output) for (const line of output.lines) console.log(line);
  else if (output.rows.length === 0) console.log(output.none);
  else for (const line of textTable(output.rows)) console.log(line);
}
