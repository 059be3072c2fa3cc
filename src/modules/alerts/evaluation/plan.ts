/**
 * How a rule's condition is read through the analytics layer (services.analytics.aggregate): which family,
 * window, filter, grouping and measure, and how the rows that come back are narrowed and merged into the
 * rule's series. Compiled once per rule version; also used when a rule is saved, so that a condition the
 * evaluator cannot serve is refused then, with the field named, rather than failing every tick.
 */
import type { Family } from '../../../core/records.js';
import type { Measure, MeasureFunction } from '../../analytics/model.js';
import { familyDimensions, TAG_KEY } from '../../analytics/dimensions.js';
import type { RecordFilter } from '../../records/filters.js';
import { REGISTRY } from '../../records/registry.js';
import { compileMatchers, conditionFamily, labelTarget, type Condition, type LabelMatcher, type RecordFamily } from '../condition/index.js';

export const FAMILY_OF: Record<RecordFamily, Family> = {
  SYSTEM: 'systemMetrics',
  APPLICATION: 'applicationMetrics',
  USER: 'userMetrics',
  PERFORMANCE: 'performanceMetrics',
  ACTIVITY: 'activities',
};

/** How the values of several rows of one series combine (rows split finer than the series by a matcher's label). */
export type MergeKind = 'sum' | 'min' | 'max' | 'weighted' | 'none';

export interface SeriesRead {
  family: Family;
  windowSeconds: number;
  /** Metric sources: the metric name (batched as `metricNames` + grouping by metricName). */
  metricName: string | null;
  sourceKind: Condition['source']['kind'];
  measure: Measure;
  /** Key of the measure in analytics rows. */
  measureKey: string;
  /** error_rate is a share (0..1) in analytics and a percentage in conditions. */
  scale: number;
  /** Equality filters pushed down to the query (besides the metric name and the time range). */
  filter: RecordFilter;
  /** Matchers applied to the rows' groups by the evaluator (!=, =~, !~, and = on a label the series are split by). */
  postFilter: ((label: (name: string) => string | undefined) => boolean) | null;
  /** The query's groupBy (analytics dimensions), without metricName. */
  queryGroupBy: string[];
  /** Alert label → dimension of the series identity. */
  seriesLabels: { label: string; dimension: string }[];
  /** Dimension → label, for reading row groups by label name in matchers. */
  labelOfDimension: Map<string, string>;
  merge: MergeKind;
  /** count and rate over no record are 0, not "no data". */
  zeroWhenEmpty: boolean;
  /** Identifies the source for inhibition: two rules on the same source and series labels share a series. */
  sourceKey: string;
}

export class PlanError extends Error {
  constructor(
    /** Input field the problem is about: condition, groupBy… */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Percentiles the analytics layer computes (its p50/p90/p95/p99 measures). */
const PERCENTILES: Record<number, MeasureFunction> = { 0.5: 'p50', 0.9: 'p90', 0.95: 'p95', 0.99: 'p99' };

/** Analytics filter keys per family, by label (the record field's name). */
function filterKeyOf(family: Family, field: string): string | null {
  const spec = REGISTRY[family].filters.find((candidate) => candidate.field === field && candidate.kind !== 'tags');
  return spec ? field : null;
}

export interface RulePlanInput {
  condition: Condition;
  family: RecordFamily;
  windowSeconds: number;
  groupBy: string[];
}

/** The read plan of a rule; throws PlanError naming the field when the evaluator cannot serve it. */
export function planRule(input: RulePlanInput): SeriesRead {
  const { condition } = input;
  const recordFamily = conditionFamily(condition, input.family);
  const family = FAMILY_OF[recordFamily];
  const source = condition.source;
  const dimensions = familyDimensions(family);
  const windowSeconds = source.window?.seconds ?? input.windowSeconds;

  const { measure, merge, scale, zeroWhenEmpty } = measureOf(condition, family);

  // Where a label lives in this family: a dimension analytics can group by, and a filter key it can filter on.
  const resolve = (label: string, field: string) => {
    const target = labelTarget(recordFamily, label);
    if (target.kind === 'metadata') {
      throw new PlanError(field, `activities can be matched and grouped on ${dimensions.join(', ')} only; "${label}" is not one of them`);
    }
    if (target.kind === 'field') {
      const filterKey = filterKeyOf(family, target.field);
      const dimension = dimensions.includes(target.field) ? target.field : null;
      if (!dimension && !filterKey) throw new PlanError(field, `"${label}" cannot be matched or grouped on by the evaluator (it reads ${dimensions.join(', ')} and tags)`);
      return { dimension, filterKey, tag: null as string | null };
    }
    if (!TAG_KEY.test(target.key)) throw new PlanError(field, `"${label}" is not a valid tag key (1-100 characters of A-Z a-z 0-9 _ . : / -)`);
    return { dimension: target.key, filterKey: null, tag: target.key };
  };

  const seriesLabels: { label: string; dimension: string }[] = [];
  input.groupBy.forEach((label, index) => {
    const where = resolve(label, `groupBy[${index}]`);
    if (!where.dimension) throw new PlanError(`groupBy[${index}]`, `series cannot be split by "${label}"; use one of ${dimensions.join(', ')} or a tag key`);
    seriesLabels.push({ label, dimension: where.dimension });
  });
  const grouped = new Set(seriesLabels.map((entry) => entry.dimension));

  const filter: RecordFilter = {};
  const tags: Record<string, string> = {};
  const post: LabelMatcher[] = [];
  const postDimensions: { label: string; dimension: string }[] = [];
  for (const matcher of source.matchers) {
    const where = resolve(matcher.label, 'condition');
    if (where.filterKey === 'metricName' && source.kind === 'metric') {
      throw new PlanError('condition', `a matcher on metricName cannot be combined with a metric name as the source (${source.name})`);
    }
    const pushable =
      matcher.op === '=' && matcher.value !== '' && !(where.dimension && grouped.has(where.dimension)) && (where.filterKey !== null || (where.tag !== null && !looksScalar(matcher.value)));
    if (pushable && where.filterKey) {
      if (where.filterKey === 'statusCode') {
        if (!/^\d{1,3}$/.test(matcher.value)) throw new PlanError('condition', `statusCode is a number: statusCode="${matcher.value}" can never match`);
        (filter as Record<string, unknown>).statusCode = Number(matcher.value);
      } else (filter as Record<string, unknown>)[where.filterKey] = matcher.value;
      continue;
    }
    if (pushable && where.tag) {
      tags[where.tag] = matcher.value;
      continue;
    }
    if (!where.dimension) throw new PlanError('condition', `"${matcher.label}" can only be matched with = and a value; the evaluator cannot group on it`);
    post.push(matcher);
    if (!grouped.has(where.dimension) && !postDimensions.some((entry) => entry.dimension === where.dimension)) {
      postDimensions.push({ label: matcher.label, dimension: where.dimension });
    }
  }
  if (Object.keys(tags).length > 0) filter.tags = tags;

  // Rows split by a matcher's label are merged back into the series, unless the function cannot be merged
  // (latest, percentiles): then that label splits the series too.
  if (merge === 'none') seriesLabels.push(...postDimensions);
  const queryGroupBy = [...new Set([...seriesLabels.map((entry) => entry.dimension), ...postDimensions.map((entry) => entry.dimension)])].sort();
  const extra = source.kind === 'metric' ? 1 : 0;
  if (queryGroupBy.length + extra > 5) {
    throw new PlanError('groupBy', `the series and matchers need ${queryGroupBy.length + extra} dimensions (${queryGroupBy.join(', ')}${extra ? ', metricName' : ''}); at most 5 can be read at once`);
  }
  if (family === 'activities') {
    for (const dimension of queryGroupBy) {
      if (!dimensions.includes(dimension)) throw new PlanError('groupBy', `activities can be grouped by ${dimensions.join(', ')} only`);
    }
  }
  const labelOfDimension = new Map<string, string>();
  for (const entry of [...seriesLabels, ...postDimensions]) if (!labelOfDimension.has(entry.dimension)) labelOfDimension.set(entry.dimension, entry.label);
  // Matchers name labels; rows carry dimensions: `app` and `appName` both read appName.
  const dimensionOfLabel = (label: string) => {
    const target = labelTarget(recordFamily, label);
    return target.kind === 'field' ? target.field : target.kind === 'tag' ? target.key : label;
  };
  const compiled = post.length > 0 ? compileMatchers(post.map((m) => ({ ...m, label: dimensionOfLabel(m.label) }))) : null;

  return {
    family,
    windowSeconds,
    metricName: source.kind === 'metric' ? source.name : null,
    sourceKind: source.kind,
    measure,
    measureKey: measureKeyOf(measure),
    scale,
    filter,
    postFilter: compiled,
    queryGroupBy,
    seriesLabels,
    labelOfDimension,
    merge,
    zeroWhenEmpty,
    sourceKey: `${family}|${source.kind}|${source.name}`,
  };
}

/** A value a tag may hold as a number or boolean: `=` must then compare the JSON text, which containment cannot. */
function looksScalar(value: string): boolean {
  return value === 'true' || value === 'false' || value === 'null' || /^-?\d/.test(value);
}

function measureOf(condition: Condition, family: Family): { measure: Measure; merge: MergeKind; scale: number; zeroWhenEmpty: boolean } {
  const { aggregation, source } = condition;
  if (source.kind === 'error_rate') return { measure: { fn: 'errorRate' }, merge: 'weighted', scale: 100, zeroWhenEmpty: false };
  const field = source.kind === 'field' ? (source.name as 'responseTimeMs') : 'value';
  const withField = (fn: MeasureFunction): Measure => (family === 'activities' || field === 'value' ? { fn } : { fn, field });
  if (aggregation.fn === 'quantile') {
    const fn = PERCENTILES[aggregation.q];
    if (!fn) throw new PlanError('condition', `the evaluator reads the percentiles p50, p90, p95 and p99 (quantile 0.5, 0.9, 0.95, 0.99); quantile(${aggregation.q}, …) is not available`);
    return { measure: withField(fn), merge: 'none', scale: 1, zeroWhenEmpty: false };
  }
  switch (aggregation.fn) {
    case 'latest':
    case 'last':
      return { measure: withField('last'), merge: 'none', scale: 1, zeroWhenEmpty: false };
    case 'count':
      return { measure: { fn: 'count' }, merge: 'sum', scale: 1, zeroWhenEmpty: true };
    case 'rate':
      return { measure: withField('rate'), merge: 'sum', scale: 1, zeroWhenEmpty: true };
    case 'sum':
      return { measure: withField('sum'), merge: 'sum', scale: 1, zeroWhenEmpty: false };
    case 'min':
      return { measure: withField('min'), merge: 'min', scale: 1, zeroWhenEmpty: false };
    case 'max':
      return { measure: withField('max'), merge: 'max', scale: 1, zeroWhenEmpty: false };
    case 'avg':
      return { measure: withField('avg'), merge: 'weighted', scale: 1, zeroWhenEmpty: false };
  }
}

export const measureKeyOf = (measure: Measure): string => (measure.field && measure.field !== 'value' ? `${measure.fn}(${measure.field})` : measure.fn);

/** Combines the values of rows of one series (`count` weighs averages and error rates). */
export function mergeValues(merge: MergeKind, parts: { value: number; count: number }[]): number {
  if (parts.length === 1) return parts[0]!.value;
  switch (merge) {
    case 'sum':
      return parts.reduce((total, part) => total + part.value, 0);
    case 'min':
      return Math.min(...parts.map((part) => part.value));
    case 'max':
      return Math.max(...parts.map((part) => part.value));
    case 'weighted': {
      const weight = parts.reduce((total, part) => total + part.count, 0);
      return weight > 0 ? parts.reduce((total, part) => total + part.value * part.count, 0) / weight : NaN;
    }
    case 'none':
      return parts[0]!.value;
  }
}
