// `pulse` — the one program: its command groups, a file each under app/cli/ (serve, admin, data, simulate).
// Commands parse arguments and configuration, then wire roles to adapters through startPlatform(); they hold
// no logic of their own beyond printing.
//
// Only what every command needs is imported up front; each command imports the rest when it runs, so
// `pulse --help` and the short commands do not pay for the whole server (`npm run bench:cli`).
import { Command } from 'commander';
import { AppError } from '../errors.js';
import { addAdminCommands } from './cli/admin.js';
import { addDataCommands } from './cli/data.js';
import { addServeCommands } from './cli/serve.js';
import { addSimulateCommand } from './cli/simulate.js';

const program = new Command('pulse')
  .description(
    'Pulse — self-hostable IoT fleet platform. Configuration comes from environment variables (docs/configuration.md).',
  )
  .showHelpAfterError();

addServeCommands(program);
addAdminCommands(program);
addDataCommands(program);
addSimulateCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`pulse: ${(error as Error).message}`);
  process.exit(error instanceof AppError ? 2 : 1);
});
