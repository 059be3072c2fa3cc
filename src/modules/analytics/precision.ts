/**
 * Aggregates (averages, percentiles, rates, sums) are rounded to 10 significant digits before they leave the
 * service. Floating-point arithmetic leaves noise in the last digits (911.5999999999999 for 911.6); no
 * measurement this service stores is meaningful beyond 10 digits, and two reads of the same data through
 * different paths (raw rows or rollups) then give the same figure. Counts are exact integers and not rounded.
 */
export const SIGNIFICANT_DIGITS = 10;

export function roundAggregate(value: number): number;
export function roundAggregate(value: number | null): number | null;
export function roundAggregate(value: number | null): number | null {
  if (value === null || !Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(SIGNIFICANT_DIGITS));
}
