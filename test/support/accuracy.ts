import { expect } from 'vitest';

/**
 * Percentiles served from rollups come from log-bucket sketches: within 1 % of percentile_cont on the raw rows
 * (README "Accuracy"); everything else is exact. `withinPercent(x, 1)` matches a number within 1 % of x.
 */
expect.extend({
  withinPercent(received: unknown, expected: number, percent: number) {
    const pass = typeof received === 'number' && Math.abs(received - expected) <= (Math.abs(expected) * percent) / 100 + 1e-9;
    return {
      pass,
      message: () => `expected ${String(received)} ${pass ? 'not ' : ''}to be within ${percent} % of ${expected}`,
      actual: received,
      expected,
    };
  },
});

interface WithinPercent {
  withinPercent(expected: number, percent: number): unknown;
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AsymmetricMatchersContaining extends WithinPercent {}
}

/** A percentile as the service may report it: null stays null, a number within 1 %. */
export const percentile = (value: number | null | undefined): unknown => (value === null || value === undefined ? null : expect.withinPercent(value, 1));
