/**
 * The durations of rule settings (`for`, `keepFiringFor`, `window`, the notification timers): a whole number and
 * one unit, as in conditions (`30s`, `5m`, `4h`, `1d`), and `0s` (or `0`) where zero makes sense. Stored in
 * seconds; shown in the largest unit that divides them (300 → `5m`).
 */
const UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

export class DurationError extends Error {}

export function parseDuration(text: string, options: { min: number; max: number }): number {
  const match = /^\s*(\d{1,9})\s*([smhd]?)\s*$/.exec(text);
  if (!match) throw new DurationError(`must be a duration such as 30s, 5m, 4h or 1d (a whole number and one unit), not ${JSON.stringify(text)}`);
  const amount = Number(match[1]);
  if (!match[2] && amount !== 0) throw new DurationError(`needs a unit (s, m, h or d): ${JSON.stringify(text)}`);
  const seconds = amount * UNITS[(match[2] || 's') as keyof typeof UNITS];
  if (seconds < options.min) throw new DurationError(`must be at least ${formatDuration(options.min)}`);
  if (seconds > options.max) throw new DurationError(`must be at most ${formatDuration(options.max)}`);
  return seconds;
}

export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
