/**
 * Gathers tenants named within `delayMs` and runs `run` once for them; the next burst waits until that run
 * is done; a failed run goes to `onError`, and the next burst runs all the same.
 */
export function debouncedTenants(
  delayMs: number,
  run: (tenants: Set<string>) => Promise<void>,
  onError: (error: unknown) => void,
) {
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const fire = () => {
    timer = undefined;
    const tenants = pending;
    pending = new Set();
    running = running.then(() => run(tenants)).catch(onError);
  };
  return {
    add(tenantId: string) {
      pending.add(tenantId);
      timer ??= setTimeout(fire, delayMs);
    },
    stop() {
      clearTimeout(timer);
      return running;
    },
  };
}
