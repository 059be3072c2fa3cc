/**
 * Recursive-descent parser of alert conditions over the EBNF grammar in ../README.md. One token of lookahead
 * (two to tell `name(` from `name`). Returns a checked AST or throws ConditionSyntaxError with a position.
 */
import { ANOMALY_DEFAULTS, ANOMALY_DIRECTIONS, ANOMALY_MODELS, SEASONALITIES } from '../anomaly/types.js';
import type { AnomalyDirection, AnomalyModel, Seasonality } from '../anomaly/types.js';
import {
  COMPARATORS,
  DURATION_UNIT_SECONDS,
  FIELDS,
  LIMITS,
  SIMPLE_FUNCTIONS,
  type Aggregation,
  type AnomalyCondition,
  type AnomalyOptions,
  type Comparator,
  type Condition,
  type ConditionKind,
  type Duration,
  type DurationUnit,
  type LabelMatcher,
  type MatchOperator,
  type RecordFamily,
  type SimpleFunction,
  type Source,
  type ThresholdCondition,
} from './ast.js';
import { ConditionSyntaxError, describeFound } from './errors.js';
import { Lexer, type Token, type TokenType } from './lexer.js';
import {
  checkAggregation,
  checkAnomalyOptions,
  checkDuration,
  checkFamily,
  checkName,
  checkNumber,
  checkPattern,
  type Problem,
} from './semantics.js';

export interface ParseOptions {
  /** The rule's kind: THRESHOLD refuses anomaly(…), ANOMALY requires it. Unset: either. */
  kind?: ConditionKind;
  /** The rule's declared record family: refuses a metric name in an ACTIVITY rule. */
  family?: RecordFamily;
}

const COMPARISON = 'a comparison (>, >=, <, <=, ==, !=)';
const FUNCTION_LIST = 'avg, min, max, sum, count, last, latest, rate, p1…p99, quantile';
const SOURCE = 'a metric name, responseTimeMs, error_rate or activity';
const OPTION_NAMES = ['model', 'baseline', 'threshold', 'direction', 'seasonality', 'min_points', 'alpha'] as const;
type OptionName = (typeof OPTION_NAMES)[number];
const MATCH_OPERATORS: readonly string[] = ['=', '!=', '=~', '!~'];

/** Parses a condition (threshold comparison or anomaly(…)); throws ConditionSyntaxError. */
export function parseCondition(text: string, options: ParseOptions = {}): Condition {
  if (typeof text !== 'string') throw new TypeError('parseCondition expects a string');
  if (text.length > LIMITS.maxLength) {
    throw new ConditionSyntaxError(
      text,
      LIMITS.maxLength,
      `at most ${LIMITS.maxLength} characters`,
      `${text.length} characters`,
      `the condition is longer than ${LIMITS.maxLength} characters (${text.length})`,
    );
  }
  return new Parser(text).condition(options);
}

class Parser {
  private readonly lexer: Lexer;
  private readonly buffer: Token[] = [];

  constructor(private readonly input: string) {
    this.lexer = new Lexer(input);
  }

  private peek(k = 0): Token {
    while (this.buffer.length <= k) this.buffer.push(this.lexer.next());
    return this.buffer[k]!;
  }

  private take(): Token {
    const token = this.peek();
    this.buffer.shift();
    return token;
  }

  private fail(at: Token | number, expected: string, detail?: string): never {
    const offset = typeof at === 'number' ? at : at.start;
    const found = typeof at === 'number' ? describeFound(this.input.slice(offset, offset + 1)) : describeFound(at.text);
    throw new ConditionSyntaxError(this.input, offset, expected, found, detail);
  }

  private refuse(at: Token | number, problem: Problem | null): void {
    if (problem) this.fail(at, problem.expected, problem.message);
  }

  private expect(type: TokenType, expected: string): Token {
    const token = this.peek();
    if (token.type !== type) this.fail(token, expected);
    return this.take();
  }

  condition(options: ParseOptions): Condition {
    const first = this.peek();
    const isAnomaly = first.type === 'ident' && first.text === 'anomaly' && this.peek(1).type === '(';
    if (options.kind === 'THRESHOLD' && isAnomaly) {
      this.fail(first, COMPARISON, 'anomaly(…) is for ANOMALY rules; a THRESHOLD rule compares a series with a number, e.g. avg(cpu_usage[5m]) > 80');
    }
    if (options.kind === 'ANOMALY' && !isAnomaly) {
      this.fail(first, 'anomaly(…)', `an ANOMALY rule's condition is anomaly(<series>, <option>=<value>, …), e.g. anomaly(avg(cpu_usage[5m]), model=mad); found ${describeFound(first.text)}`);
    }
    const condition = isAnomaly ? this.anomaly() : this.threshold();
    if (options.family) this.refuse(first, checkFamily(condition.source, options.family));
    return condition;
  }

  private endOfInput(): void {
    const token = this.peek();
    if (token.type !== 'eof') this.fail(token, 'end of input');
  }

  private threshold(): ThresholdCondition {
    const { aggregation, source } = this.series(true);
    const op = this.peek();
    if (op.type !== 'op' || !(COMPARATORS as readonly string[]).includes(op.text)) {
      const hint = op.text === '=' ? '; write == to test equality' : '';
      this.fail(op, COMPARISON, `expected ${COMPARISON} but found ${describeFound(op.text)}${hint}`);
    }
    this.take();
    const threshold = this.number('threshold');
    this.endOfInput();
    return { kind: 'threshold', aggregation, source, comparator: op.text as Comparator, threshold };
  }

  private number(what: string): number {
    const token = this.peek();
    if (token.type !== 'number') this.fail(token, `a number (the ${what})`);
    this.take();
    this.refuse(token, checkNumber(token.num!, what));
    return token.num === 0 ? 0 : token.num!; // no -0
  }

  /** [function "("] source [")"] — or quantile "(" number "," source ")". */
  private series(top: boolean): { aggregation: Aggregation; source: Source } {
    const head = this.peek();
    if (head.type === 'ident' && this.peek(1).type === '(') {
      this.take();
      this.take();
      const aggregation = this.functionName(head);
      const source = this.source(SOURCE);
      this.expect(')', '")"');
      this.refuse(head, checkAggregation(aggregation, source));
      return { aggregation, source };
    }
    const source = this.source(top ? `${SOURCE}, or a function such as avg(…)` : SOURCE);
    const aggregation: Aggregation = { fn: 'latest' };
    this.refuse(head, checkAggregation(aggregation, source));
    return { aggregation, source };
  }

  private functionName(head: Token): Aggregation {
    const name = head.text;
    if (name === 'quantile') {
      const qToken = this.peek();
      const q = this.number('quantile');
      if (q < 0 || q > 1) this.fail(qToken, 'a quantile from 0 to 1', `the quantile must be from 0 to 1 (found ${qToken.text}); e.g. quantile(0.95, …)`);
      this.expect(',', '","');
      return { fn: 'quantile', q };
    }
    const percentile = /^p(\d+)$/.exec(name);
    if (percentile) {
      const n = Number(percentile[1]);
      if (percentile[1]!.length > 2 || n < 1 || n > 99) {
        this.fail(head, 'p1 to p99', `${describeFound(name)} is not a percentile from p1 to p99; use quantile(q, …) for others, e.g. quantile(0.999, …)`);
      }
      return { fn: 'quantile', q: n / 100 };
    }
    if ((SIMPLE_FUNCTIONS as readonly string[]).includes(name)) return { fn: name as SimpleFunction };
    if (name === 'anomaly') this.fail(head, `a function (${FUNCTION_LIST})`, 'anomaly(…) is a whole condition and cannot be nested');
    this.fail(head, `a function (${FUNCTION_LIST})`, `unknown function ${describeFound(name)}; expected one of ${FUNCTION_LIST}`);
  }

  private source(expected: string): Source {
    const token = this.peek();
    let source: Source;
    if (token.type === 'ident' && this.peek(1).type === '(') {
      if (token.text === 'anomaly') this.fail(token, expected, 'anomaly(…) is a whole condition and cannot be nested');
      this.fail(token, expected, `functions cannot be nested: ${describeFound(token.text)} inside a function; expected ${expected}`);
    }
    if (token.type === 'ident') {
      this.take();
      const name = token.text;
      const kind = name === 'error_rate' || name === 'activity' ? name : Object.hasOwn(FIELDS, name) ? 'field' : 'metric';
      source = { kind, name, isField: kind === 'field', matchers: [], window: undefined };
    } else if (token.type === 'string') {
      this.take();
      source = { kind: 'metric', name: token.value, isField: false, matchers: [], window: undefined };
    } else {
      this.fail(token, expected);
    }
    this.refuse(token, checkName(source.name, 'metric name'));
    if (this.peek().type === '{') source.matchers = this.matchers();
    if (this.peek().type === '[') {
      this.take();
      source.window = this.duration('window', 'a duration such as 5m');
      this.expect(']', '"]"');
    }
    return source;
  }

  private duration(what: string, expected: string): Duration {
    const token = this.peek();
    if (token.type !== 'duration') this.fail(token, expected);
    this.take();
    this.refuse(token, checkDuration(token.duration!, what));
    return token.duration!;
  }

  private matchers(): LabelMatcher[] {
    const open = this.take();
    if (this.peek().type === '}') {
      this.fail(open, 'a label matcher such as host="web-1"', 'empty label matchers {}: write at least one, e.g. {host="web-1"}, or leave the braces out');
    }
    const matchers: LabelMatcher[] = [];
    for (;;) {
      const label = this.peek();
      if (label.type !== 'ident' && label.type !== 'string') this.fail(label, 'a label name');
      this.take();
      this.refuse(label, checkName(label.value, 'label name'));
      const op = this.peek();
      if (op.type !== 'op' || !MATCH_OPERATORS.includes(op.text)) this.fail(op, 'a label operator (=, !=, =~, !~)');
      this.take();
      const value = this.expect('string', 'a double-quoted string');
      if (op.text === '=~' || op.text === '!~') {
        const bad = checkPattern(value.value);
        if (bad) this.fail(value.offsets![Math.min(bad.index, value.offsets!.length - 1)]!, bad.expected, bad.message);
      }
      matchers.push({ label: label.value, op: op.text as MatchOperator, value: value.value });
      const after = this.peek();
      if (after.type === '}') break;
      if (after.type !== ',') this.fail(after, '"," or "}"');
      this.take();
      if (this.peek().type === '}') break; // a trailing comma
    }
    this.take();
    return matchers;
  }

  private anomaly(): AnomalyCondition {
    const keyword = this.take();
    this.take();
    const { aggregation, source } = this.series(false);
    const given = new Map<OptionName, { name: Token; value: Token }>();
    while (this.peek().type === ',') {
      this.take();
      const name = this.peek();
      if (name.type === ')') break; // a trailing comma
      if (name.type !== 'ident' || !(OPTION_NAMES as readonly string[]).includes(name.text)) {
        this.fail(name, `an option (${OPTION_NAMES.join(', ')})`, name.type === 'ident' ? `unknown anomaly option ${describeFound(name.text)}; expected one of ${OPTION_NAMES.join(', ')}` : undefined);
      }
      this.take();
      if (given.has(name.text as OptionName)) this.fail(name, 'each option once', `option ${name.text} is given twice`);
      const eq = this.peek();
      if (eq.type !== 'op' || eq.text !== '=') this.fail(eq, '"="');
      this.take();
      const value = this.peek();
      if (!['number', 'duration', 'ident', 'string'].includes(value.type)) this.fail(value, `a value for ${name.text}`);
      this.take();
      given.set(name.text as OptionName, { name, value });
    }
    this.expect(')', '"," or ")"');
    this.endOfInput();

    const word = <T extends string>(option: OptionName, allowed: readonly T[], fallback: T): T => {
      const entry = given.get(option);
      if (!entry) return fallback;
      const { value } = entry;
      if ((value.type === 'ident' || value.type === 'string') && (allowed as readonly string[]).includes(value.value)) return value.value as T;
      return this.fail(value, allowed.join(', '), `${option} must be one of ${allowed.join(', ')} (found ${describeFound(value.text)})`);
    };
    const num = (option: OptionName): number | undefined => {
      const entry = given.get(option);
      if (!entry) return undefined;
      if (entry.value.type !== 'number') this.fail(entry.value, `a number for ${option}`);
      this.refuse(entry.value, checkNumber(entry.value.num!, option));
      return entry.value.num === 0 ? 0 : entry.value.num!;
    };
    const model = word<AnomalyModel>('model', ANOMALY_MODELS, ANOMALY_DEFAULTS.model);
    const direction = word<AnomalyDirection>('direction', ANOMALY_DIRECTIONS, ANOMALY_DEFAULTS.direction);
    const seasonality = word<Seasonality>('seasonality', SEASONALITIES, ANOMALY_DEFAULTS.seasonality);
    let baseline: Duration;
    const baselineEntry = given.get('baseline');
    if (baselineEntry) {
      const { value } = baselineEntry;
      const quoted = value.type === 'string' ? /^(\d+)([smhd])$/.exec(value.value) : null;
      if (value.type === 'duration') baseline = value.duration!;
      else if (quoted) baseline = durationOf(Number(quoted[1]), quoted[2] as DurationUnit);
      else this.fail(value, 'a duration such as 7d', `baseline must be a duration such as 7d (found ${describeFound(value.text)})`);
      this.refuse(value, checkDuration(baseline, 'baseline'));
    } else {
      baseline = durationOf(ANOMALY_DEFAULTS.baselineSeconds[seasonality] / 86_400, 'd');
    }
    const alpha = num('alpha');
    const options: AnomalyOptions = {
      model,
      baseline,
      threshold: num('threshold') ?? ANOMALY_DEFAULTS.threshold,
      direction,
      seasonality,
      minPoints: num('min_points') ?? ANOMALY_DEFAULTS.minPoints,
    };
    if (model === 'ewma') options.alpha = alpha ?? ANOMALY_DEFAULTS.alpha;
    else if (alpha !== undefined) options.alpha = alpha; // refused just below, at the option
    const bad = checkAnomalyOptions(options, source);
    if (bad) {
      const entry = given.get(bad.option as OptionName);
      this.fail(entry ? (bad.option === 'alpha' && model !== 'ewma' ? entry.name : entry.value) : keyword, bad.problem.expected, bad.problem.message);
    }
    return { kind: 'anomaly', aggregation, source, options };
  }
}

function durationOf(amount: number, unit: DurationUnit): Duration {
  return { amount, unit, seconds: amount * DURATION_UNIT_SECONDS[unit] };
}
