/** Anomaly scoring for ANOMALY alert rules (semantics in ../README.md). Pure functions. */
export * from './types.js';
export * from './stats.js';
export {
  scoreAnomaly,
  scoreValues,
  checkTolerance,
  zscoreEstimate,
  ewmaEstimate,
  madEstimate,
  seasonalNeighbours,
  MAD_TO_SIGMA,
  MEAN_AD_TO_SIGMA,
  type AnomalyScore,
  type AnomalyScoreOptions,
  type Estimate,
} from './models.js';
export { scanSeries, type ScanOptions, type ScanPoint } from './scan.js';
export { scanOptionsFromCondition } from './fromCondition.js';
