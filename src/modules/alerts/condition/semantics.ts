/**
 * Meaning checks shared by the parser (which reports them with a position) and validateCondition (for ASTs
 * built in code). Each check returns null or what is wrong.
 */
import { ANOMALY_DIRECTIONS, ANOMALY_MODELS, SEASONALITIES, SEASON_PERIOD_MS } from '../anomaly/types.js';
import {
  COMPARATORS,
  FIELDS,
  LIMITS,
  RECORD_FAMILIES,
  SIMPLE_FUNCTIONS,
  DURATION_UNIT_SECONDS,
  type Aggregation,
  type AnomalyOptions,
  type Condition,
  type ConditionKind,
  type Duration,
  type LabelMatcher,
  type RecordFamily,
  type Source,
} from './ast.js';
import { compileLabelPattern, PatternError } from './regex.js';

export interface Problem {
  /** What would have been accepted, e.g. `a duration from 1s to 31d`. */
  expected: string;
  /** The full explanation. */
  message: string;
}

const problem = (expected: string, message: string): Problem => ({ expected, message });

export function checkDuration(d: Duration, what: string): Problem | null {
  const expected = 'a duration from 1s to 31d';
  if (!(Object.hasOwn(DURATION_UNIT_SECONDS, d.unit)) || !Number.isSafeInteger(d.amount) || d.seconds !== d.amount * DURATION_UNIT_SECONDS[d.unit]) {
    return problem(expected, `malformed ${what} duration`);
  }
  if (d.amount < 1) return problem(expected, `the ${what} must be at least 1s (found ${d.amount}${d.unit})`);
  if (d.seconds > LIMITS.maxDurationSeconds) return problem(expected, `the ${what} must be at most 31d (found ${d.amount}${d.unit})`);
  return null;
}

export function checkName(name: string, what: string): Problem | null {
  if (name.length === 0) return problem(`a ${what}`, `empty ${what}`);
  if (name.length > LIMITS.maxNameLength) return problem(`a ${what} of at most ${LIMITS.maxNameLength} characters`, `${what} longer than ${LIMITS.maxNameLength} characters`);
  return null;
}

/** For =~ / !~: the pattern problem and its index in the pattern, else null. */
export function checkPattern(pattern: string): (Problem & { index: number }) | null {
  try {
    compileLabelPattern(pattern);
    return null;
  } catch (error) {
    if (error instanceof PatternError) return { expected: 'a pattern of the supported subset', message: `bad pattern: ${error.message}`, index: error.index };
    throw error;
  }
}

export function checkSourceShape(source: Source): Problem | null {
  const ok =
    source.kind === 'metric' ||
    (source.kind === 'field' && Object.hasOwn(FIELDS, source.name)) ||
    ((source.kind === 'error_rate' || source.kind === 'activity') && source.name === source.kind);
  if (!ok) return problem('a consistent source', `source "${source.name}" cannot be of kind ${String(source.kind)}`);
  if (source.isField !== (source.kind === 'field')) return problem('a consistent source', 'isField must be true exactly for fields');
  return null;
}

/** Which functions make sense on which source. */
export function checkAggregation(aggregation: Aggregation, source: Source): Problem | null {
  if (aggregation.fn === 'quantile') {
    if (!Number.isFinite(aggregation.q) || aggregation.q < 0 || aggregation.q > 1) {
      return problem('a quantile from 0 to 1', `the quantile must be from 0 to 1 (found ${aggregation.q})`);
    }
  } else if (!SIMPLE_FUNCTIONS.includes(aggregation.fn)) {
    return problem('a known function', `unknown function "${String(aggregation.fn)}"`);
  }
  const fn = aggregation.fn;
  switch (source.kind) {
    case 'activity':
      if (fn !== 'count' && fn !== 'rate') {
        return problem('count(activity…) or rate(activity…)', `activities have no value: use count(activity…) or rate(activity…)${fn === 'latest' ? '' : `, not ${fn}(…)`}`);
      }
      return null;
    case 'error_rate':
      if (fn !== 'latest') {
        return problem('error_rate alone', `error_rate is already computed over its window: write error_rate[…] without ${fn === 'quantile' ? 'a quantile' : `${fn}(…)`}`);
      }
      return null;
    case 'field':
      if (fn === 'rate') return problem('a function other than rate', `rate(…) is meaningless on the field ${source.name}; use avg, max, a quantile, …`);
      return null;
    case 'metric':
      return null;
  }
}

export function checkNumber(n: number, what: string): Problem | null {
  if (!Number.isFinite(n)) return problem(`a finite ${what}`, `the ${what} must be a finite number`);
  return null;
}

export function checkAnomalyOptions(options: AnomalyOptions, source: Source): { option: string; problem: Problem } | null {
  const bad = (option: string, expected: string, message: string) => ({ option, problem: problem(expected, message) });
  if (!ANOMALY_MODELS.includes(options.model)) return bad('model', 'zscore, ewma or mad', `unknown model "${options.model}"`);
  if (!ANOMALY_DIRECTIONS.includes(options.direction)) return bad('direction', 'both, up or down', `unknown direction "${options.direction}"`);
  if (!SEASONALITIES.includes(options.seasonality)) return bad('seasonality', 'none, daily or weekly', `unknown seasonality "${options.seasonality}"`);
  if (!Number.isFinite(options.threshold) || options.threshold <= 0 || options.threshold > 1e6) {
    return bad('threshold', 'a number above 0', `the anomaly threshold must be a positive number of standard deviations (found ${options.threshold})`);
  }
  if (!Number.isSafeInteger(options.minPoints) || options.minPoints < 3 || options.minPoints > 100_000) {
    return bad('min_points', 'a whole number from 3 to 100000', `min_points must be a whole number from 3 to 100000 (found ${options.minPoints})`);
  }
  if (options.model === 'ewma') {
    if (options.alpha === undefined || !(options.alpha > 0 && options.alpha < 1)) {
      return bad('alpha', 'a number between 0 and 1', `alpha must be between 0 and 1, exclusive (found ${options.alpha})`);
    }
  } else if (options.alpha !== undefined) {
    return bad('alpha', 'model=ewma', `alpha applies to model=ewma only (the model is ${options.model})`);
  }
  const d = checkDuration(options.baseline, 'baseline');
  if (d) return { option: 'baseline', problem: d };
  if (source.window && options.baseline.seconds <= source.window.seconds) {
    return bad('baseline', 'a baseline longer than the window', `the baseline (${options.baseline.amount}${options.baseline.unit}) must be longer than the window (${source.window.amount}${source.window.unit})`);
  }
  if (options.seasonality !== 'none') {
    const period = SEASON_PERIOD_MS[options.seasonality] / 1000;
    if (options.baseline.seconds < period) {
      return bad('baseline', `a baseline of at least ${period / 86_400}d`, `seasonality=${options.seasonality} needs a baseline of at least ${period / 86_400}d (found ${options.baseline.amount}${options.baseline.unit})`);
    }
  }
  return null;
}

/** A metric read in a family that has no metrics (ACTIVITY) is refused. */
export function checkFamily(source: Source, declared: RecordFamily): Problem | null {
  if (!RECORD_FAMILIES.includes(declared)) return problem('a record family', `unknown record family "${declared}"`);
  if (declared === 'ACTIVITY' && source.kind === 'metric') {
    return problem('activity{…}', `activity rules read user activities, which have no metric names: use count(activity{…}) or rate(activity{…})`);
  }
  return null;
}

/**
 * Which record family a condition reads: responseTimeMs and error_rate read PERFORMANCE records, activity reads
 * ACTIVITY records, and a metric name reads the rule's declared family.
 */
export function conditionFamily(condition: Condition, declared: RecordFamily): RecordFamily {
  const { source } = condition;
  switch (source.kind) {
    case 'error_rate':
      return 'PERFORMANCE';
    case 'activity':
      return 'ACTIVITY';
    case 'field':
      return Object.hasOwn(FIELDS, source.name) ? FIELDS[source.name]! : declared;
    case 'metric':
      return declared;
  }
}

export function conditionKind(condition: Condition): ConditionKind {
  return condition.kind === 'anomaly' ? 'ANOMALY' : 'THRESHOLD';
}

export interface ConditionIssue {
  /** Where in the AST, e.g. `source.matchers[1].value`. */
  path: string;
  message: string;
}

/** Every problem of an AST (e.g. one built in code); [] when it is valid. The parser never returns an invalid AST. */
export function validateCondition(condition: Condition, declared?: RecordFamily): ConditionIssue[] {
  const issues: ConditionIssue[] = [];
  const add = (path: string, p: Problem | null) => {
    if (p) issues.push({ path, message: p.message });
  };
  const { source, aggregation } = condition;
  add('source', checkSourceShape(source));
  add('source.name', checkName(source.name, 'name'));
  source.matchers.forEach((m, i) => {
    add(`source.matchers[${i}].label`, checkName(m.label, 'label name'));
    if (m.op !== '=' && m.op !== '!=' && m.op !== '=~' && m.op !== '!~') add(`source.matchers[${i}].op`, problem('=, !=, =~ or !~', `unknown operator "${String(m.op)}"`));
    if (m.op === '=~' || m.op === '!~') add(`source.matchers[${i}].value`, checkPattern(m.value));
  });
  if (source.window) add('source.window', checkDuration(source.window, 'window'));
  add('aggregation', checkAggregation(aggregation, source));
  if (declared) add('source', checkFamily(source, declared));
  if (condition.kind === 'threshold') {
    if (!COMPARATORS.includes(condition.comparator)) add('comparator', problem('a comparison', `unknown comparator "${String(condition.comparator)}"`));
    add('threshold', checkNumber(condition.threshold, 'threshold'));
  } else {
    const bad = checkAnomalyOptions(condition.options, source);
    if (bad) issues.push({ path: `options.${bad.option === 'min_points' ? 'minPoints' : bad.option}`, message: bad.problem.message });
  }
  return issues;
}
