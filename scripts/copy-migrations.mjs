// tsc compiles only .ts files; the SQL migrations ship next to the compiled migrator.
import { cpSync } from 'node:fs';

cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
