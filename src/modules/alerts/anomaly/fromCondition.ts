import type { AnomalyCondition } from '../condition/ast.js';
import type { ScanOptions } from './scan.js';

/** The scoring options an `anomaly(…)` condition stands for; forPoints comes from the rule's `for`. */
export function scanOptionsFromCondition(condition: AnomalyCondition, forPoints = 1): ScanOptions {
  const o = condition.options;
  return {
    model: o.model,
    threshold: o.threshold,
    direction: o.direction,
    seasonality: o.seasonality,
    minPoints: o.minPoints,
    ...(o.alpha !== undefined ? { alpha: o.alpha } : {}),
    baselineMs: o.baseline.seconds * 1000,
    forPoints,
  };
}
