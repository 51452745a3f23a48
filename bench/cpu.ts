// CPU as the benchmarks read it from /proc: a process's, and the PostgreSQL backends' of one database.
import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** CPU seconds a process has used so far (utime + stime of /proc/<pid>/stat); undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return undefined;
  }
}

/**
 * The CPU the PostgreSQL backends of one database use (Pulse's pool, autovacuum), sampled every 250 ms
 * from /proc: a backend that ends between two samples loses at most its last 250 ms. The bench's own
 * connections (application_name pulse-bench) are left out. Shared processes (WAL writer, checkpointer)
 * serve every database on the server and are not counted.
 */
export function samplePostgresCpu(sql: pg.Pool, database: string) {
  const first = new Map<number, number>();
  const last = new Map<number, { kind: string; seconds: number }>();
  const sample = async () => {
    const { rows: backends } = await sql.query<{ pid: number; kind: string }>(
      `SELECT pid, CASE WHEN backend_type = 'client backend' THEN application_name ELSE backend_type END AS kind
       FROM pg_stat_activity WHERE datname = $1 AND application_name <> 'pulse-bench'`,
      [database],
    );
    for (const { pid, kind } of backends) {
      const seconds = processCpuSeconds(pid);
      if (seconds === undefined) continue;
      if (!first.has(pid)) first.set(pid, running ? 0 : seconds);
      last.set(pid, { kind, seconds });
    }
  };
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  return {
    async start() {
      await sample();
      running = true;
      timer = setInterval(() => void sample().catch(() => undefined), 250);
    },
    /** CPU seconds per kind of backend since start. */
    async stop(): Promise<Record<string, number>> {
      clearInterval(timer);
      await sample();
      const byKind: Record<string, number> = {};
      for (const [pid, { kind, seconds }] of last) byKind[kind] = (byKind[kind] ?? 0) + seconds - first.get(pid)!;
      return byKind;
    },
  };
}
