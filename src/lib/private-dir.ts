// The embedded data dir holds the database (and in it the built-in issuer's signing key), the admin key
// and the secrets key: nobody but the user running Pulse may read any of it.
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Makes `dir` and everything under it private: directories 0700, files 0600 — files an earlier version or
 * another umask left. What PGlite creates while it runs (WAL segments, pg_internal.init) gets 0600 from the
 * umask connect() sets, and is behind a 0700 directory anyway.
 */
export function keepPrivate(dir: string): void {
  const visit = (entry: string) => {
    const stat = lstatSync(entry, { throwIfNoEntry: false });
    if (!stat || stat.isSymbolicLink()) return;
    if (stat.isDirectory()) {
      if (stat.mode & 0o077) chmodSync(entry, 0o700);
      for (const name of readdirSync(entry)) visit(path.join(entry, name));
    } else if (stat.mode & 0o077) chmodSync(entry, stat.mode & 0o700);
  };
  visit(dir);
}
