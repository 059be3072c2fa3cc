/**
 * AST of alert conditions (see ../README.md for the grammar). Nodes carry no source positions, so that
 * parse(print(ast)) is deep-equal to ast; the parser reports positions in its errors instead.
 */
import type { AnomalyDirection, AnomalyModel, Seasonality } from '../anomaly/types.js';

/** The five record families of the service. */
export type RecordFamily = 'SYSTEM' | 'APPLICATION' | 'USER' | 'PERFORMANCE' | 'ACTIVITY';
export const RECORD_FAMILIES: readonly RecordFamily[] = ['SYSTEM', 'APPLICATION', 'USER', 'PERFORMANCE', 'ACTIVITY'];

/** The rule kinds this grammar serves. */
export type ConditionKind = 'THRESHOLD' | 'ANOMALY';

export type DurationUnit = 's' | 'm' | 'h' | 'd';
export const DURATION_UNIT_SECONDS: Record<DurationUnit, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration as written (`90m` stays 90 minutes, so it prints back as written); `seconds` is derived. */
export interface Duration {
  amount: number;
  unit: DurationUnit;
  seconds: number;
}

/** `=` and `!=` compare strings; `=~` and `!~` match a fully anchored pattern of the safe subset (regex.ts). */
export type MatchOperator = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  label: string;
  op: MatchOperator;
  value: string;
}

/**
 * What a condition reads:
 * - metric: records of a metric name (metricName column) in the rule's family;
 * - field: a numeric field of records (responseTimeMs of performance records), every record of the family;
 * - error_rate: built-in, percent (0–100) of performance records with statusCode ≥ 500 among those with a status code;
 * - activity: user activity records (counted, they have no value).
 */
export type SourceKind = 'metric' | 'field' | 'error_rate' | 'activity';

export interface Source {
  kind: SourceKind;
  /** Metric name, field name, `error_rate` or `activity`. */
  name: string;
  /** kind === 'field' (kept for readers of the AST sketch). */
  isField: boolean;
  /** In the order written; all must hold. */
  matchers: LabelMatcher[];
  /** undefined: the rule's evaluation window (the evaluator supplies it). */
  window: Duration | undefined;
}

/** Aggregation functions taking one argument. `latest` is what a bare source means. */
export type SimpleFunction = 'latest' | 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last' | 'rate';
export const SIMPLE_FUNCTIONS: readonly SimpleFunction[] = ['latest', 'avg', 'min', 'max', 'sum', 'count', 'last', 'rate'];

export type Aggregation = { fn: SimpleFunction } | { fn: 'quantile'; q: number };

export type Comparator = '>' | '>=' | '<' | '<=' | '==' | '!=';
export const COMPARATORS: readonly Comparator[] = ['>', '>=', '<', '<=', '==', '!='];

export interface ThresholdCondition {
  kind: 'threshold';
  aggregation: Aggregation;
  source: Source;
  comparator: Comparator;
  threshold: number;
}

/** Every option is resolved (defaults filled in) so the evaluator reads them directly. */
export interface AnomalyOptions {
  model: AnomalyModel;
  /** How far back the baseline reaches. */
  baseline: Duration;
  /** |z| above which a point is anomalous. */
  threshold: number;
  direction: AnomalyDirection;
  seasonality: Seasonality;
  /** Fewer baseline points than this: not enough data, never fires. */
  minPoints: number;
  /** EWMA smoothing factor; present only when model is ewma. */
  alpha?: number;
}

export interface AnomalyCondition {
  kind: 'anomaly';
  aggregation: Aggregation;
  source: Source;
  options: AnomalyOptions;
}

export type Condition = ThresholdCondition | AnomalyCondition;

/** Numeric record fields usable as a source, and the family they belong to. */
export const FIELDS: Readonly<Record<string, RecordFamily>> = { responseTimeMs: 'PERFORMANCE' };
/** Names that are not metric names when written bare (quote them, e.g. "error_rate", to mean a metric). */
export const BUILTIN_SOURCES = ['error_rate', 'activity'] as const;

export const LIMITS = {
  /** Longest condition text. */
  maxLength: 1000,
  /** Longest metric, field or label name (as at ingest). */
  maxNameLength: 100,
  /** Longest window / baseline. */
  maxDurationSeconds: 31 * 86_400,
  /** Longest `=~` / `!~` pattern. */
  maxPatternLength: 256,
} as const;
