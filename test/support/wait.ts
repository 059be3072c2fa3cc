import { performance } from 'node:perf_hooks';

/**
 * Polls until `condition` holds; fails with `what` after timeoutMs. The deadline is on the monotonic clock, so a
 * wall-clock step (NTP, a test faking Date) neither cuts the wait short nor stretches it.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
