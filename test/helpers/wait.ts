/** Polls `condition` every 50 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Reads `read` every `intervalMs` until two reads in a row agree and `accept` takes the value (writes still
 * on their way have landed); returns it, or fails after `timeoutMs`.
 */
export async function whenSettled(
  read: () => Promise<number>,
  {
    intervalMs,
    timeoutMs,
    accept = () => true,
  }: { intervalMs: number; timeoutMs: number; accept?: (value: number) => boolean },
): Promise<number> {
  let last = await read();
  await waitFor(async () => {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const now = await read();
    const settled = now === last && accept(now);
    last = now;
    return settled;
  }, timeoutMs);
  return last;
}
