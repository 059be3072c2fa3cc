import { describe, expect, it } from 'vitest';
import {
  ConditionSyntaxError,
  compare,
  compileLabelPattern,
  toAnchoredRegExpSource,
  compileMatchers,
  labelTarget,
  conditionFamily,
  conditionKind,
  parseCondition,
  printCondition,
  validateCondition,
  type AnomalyCondition,
  type Condition,
  type LabelMatcher,
  type ParseOptions,
  type RecordFamily,
  type Source,
  type ThresholdCondition,
} from '../src/modules/alerts/condition/index.js';
import { mulberry32 } from './support/anomalyBench.js';

/** The ConditionSyntaxError that parsing text raises; fails the test when it parses. */
function syntaxError(text: string, options?: ParseOptions): ConditionSyntaxError {
  try {
    parseCondition(text, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConditionSyntaxError);
    return error as ConditionSyntaxError;
  }
  throw new Error(`parsed: ${text}`);
}

function threshold(text: string): ThresholdCondition {
  const c = parseCondition(text);
  expect(c.kind).toBe('threshold');
  return c as ThresholdCondition;
}

const src = (name: string, extra: Partial<Source> = {}): Source => ({
  kind: 'metric',
  name,
  isField: false,
  matchers: [],
  window: undefined,
  ...extra,
});

/** parse → print → parse gives the same AST, and printing is a fixed point. */
function expectRoundTrip(text: string, options?: ParseOptions): Condition {
  const ast = parseCondition(text, options);
  const printed = printCondition(ast);
  expect(parseCondition(printed, options)).toEqual(ast);
  expect(printCondition(parseCondition(printed, options))).toBe(printed);
  return ast;
}

describe('threshold conditions: the seed and issue forms', () => {
  it('cpu_usage > 80: the latest value in the window', () => {
    expect(parseCondition('cpu_usage > 80')).toEqual({
      kind: 'threshold',
      aggregation: { fn: 'latest' },
      source: src('cpu_usage'),
      comparator: '>',
      threshold: 80,
    });
  });

  it('avg(cpu_usage[5m]) > 80', () => {
    expect(threshold('avg(cpu_usage[5m]) > 80')).toMatchObject({
      aggregation: { fn: 'avg' },
      source: src('cpu_usage', { window: { amount: 5, unit: 'm', seconds: 300 } }),
    });
  });

  it('max(disk_usage{mount="/"}) >= 90, window left to the evaluator', () => {
    const c = threshold('max(disk_usage{mount="/"}) >= 90');
    expect(c.source).toEqual(src('disk_usage', { matchers: [{ label: 'mount', op: '=', value: '/' }] }));
    expect(c.source.window).toBeUndefined();
    expect(c.comparator).toBe('>=');
  });

  it('p95(responseTimeMs{endpoint="/api/orders"}[5m]) > 1000: a field of performance records', () => {
    const c = threshold('p95(responseTimeMs{endpoint="/api/orders"}[5m]) > 1000');
    expect(c.aggregation).toEqual({ fn: 'quantile', q: 0.95 });
    expect(c.source).toMatchObject({ kind: 'field', name: 'responseTimeMs', isField: true });
    expect(conditionFamily(c, 'SYSTEM')).toBe('PERFORMANCE');
  });

  it('error_rate > 5: the built-in series of performance records', () => {
    const c = threshold('error_rate > 5');
    expect(c.source).toMatchObject({ kind: 'error_rate', name: 'error_rate', isField: false });
    expect(conditionFamily(c, 'APPLICATION')).toBe('PERFORMANCE');
    // Quoted, it is the metric of that name (e.g. the application metric rolled up by the aggregation job).
    const metric = threshold('avg("error_rate"{app="shop"}[15m]) > 5');
    expect(metric.source).toMatchObject({ kind: 'metric', name: 'error_rate' });
    expect(conditionFamily(metric, 'APPLICATION')).toBe('APPLICATION');
  });

  it('rate(page_views{app="shop"}[10m]) < 0.5', () => {
    expect(threshold('rate(page_views{app="shop"}[10m]) < 0.5')).toMatchObject({
      aggregation: { fn: 'rate' },
      comparator: '<',
      threshold: 0.5,
      source: { name: 'page_views', window: { amount: 10, unit: 'm', seconds: 600 } },
    });
  });

  it('count(activity{activityType="login"}[15m]) == 0: user activities', () => {
    const c = threshold('count(activity{activityType="login"}[15m]) == 0');
    expect(c.source).toMatchObject({ kind: 'activity', matchers: [{ label: 'activityType', op: '=', value: 'login' }] });
    expect(conditionFamily(c, 'USER')).toBe('ACTIVITY');
    expect(conditionKind(c)).toBe('THRESHOLD');
  });

  it('a metric name reads the rule’s declared family', () => {
    for (const family of ['SYSTEM', 'APPLICATION', 'USER', 'PERFORMANCE'] as RecordFamily[]) {
      expect(conditionFamily(parseCondition('sum(x[1h]) > 1'), family)).toBe(family);
    }
  });
});

describe('lexical rules', () => {
  it('all six comparisons', () => {
    for (const op of ['>', '>=', '<', '<=', '==', '!=']) expect(threshold(`x ${op} 1`).comparator).toBe(op);
    expect(threshold('x>=1').comparator).toBe('>=');
  });

  it('numbers: integers, decimals, negatives, exponents', () => {
    const cases: [string, number][] = [
      ['80', 80], ['0.5', 0.5], ['.5', 0.5], ['5.', 5], ['-1', -1], ['-0.25', -0.25], ['1e3', 1000],
      ['1E3', 1000], ['2.5e-3', 0.0025], ['-1e+2', -100], ['-0', 0],
    ];
    for (const [text, value] of cases) expect(threshold(`x > ${text}`).threshold).toBe(value);
    expect(Object.is(threshold('x > -0').threshold, 0)).toBe(true);
    expect(threshold('x>-5').threshold).toBe(-5);
  });

  it('durations: s, m, h, d from 1s to 31d, written as given', () => {
    expect(threshold('x[30s] > 1').source.window).toEqual({ amount: 30, unit: 's', seconds: 30 });
    expect(threshold('x[90m] > 1').source.window).toEqual({ amount: 90, unit: 'm', seconds: 5400 });
    expect(threshold('x[2h] > 1').source.window).toEqual({ amount: 2, unit: 'h', seconds: 7200 });
    expect(threshold('x[31d] > 1').source.window).toEqual({ amount: 31, unit: 'd', seconds: 2_678_400 });
    expect(threshold('x[744h] > 1').source.window?.seconds).toBe(31 * 86_400);
  });

  it('names may contain . : / - and are one token: a-b is not a subtraction', () => {
    expect(threshold('http.server/requests:total-count > 1').source.name).toBe('http.server/requests:total-count');
    expect(threshold('a-b > 1').source.name).toBe('a-b');
    expect(threshold('a-b>-1')).toMatchObject({ source: { name: 'a-b' }, threshold: -1 });
    // Names outside the bare form (leading digit, spaces, reserved words) are written as strings.
    expect(threshold('"2xx responses" > 1').source.name).toBe('2xx responses');
    expect(threshold('"activity" > 1').source).toMatchObject({ kind: 'metric', name: 'activity' });
    expect(threshold('"responseTimeMs" > 1').source).toMatchObject({ kind: 'metric', isField: false });
    // A bare function name without "(" is a metric name.
    expect(threshold('avg > 1').source.name).toBe('avg');
    expect(threshold('anomaly > 1').source.name).toBe('anomaly');
  });

  it('whitespace (spaces, tabs, new lines) between tokens', () => {
    expect(parseCondition(' avg ( cpu_usage { host = "a" , } [ 5m ] )\n>\t80 ')).toEqual(parseCondition('avg(cpu_usage{host="a"}[5m]) > 80'));
  });

  it('string escapes', () => {
    const c = threshold(String.raw`x{a="q\"b\\s\n\t\r\/\u00e9"} > 1`);
    expect(c.source.matchers[0]!.value).toBe('q"b\\s\n\t\r/é');
    expect(threshold('x{"odd label"="v"} > 1').source.matchers[0]!.label).toBe('odd label');
  });
});

describe('label matchers', () => {
  it('=, !=, =~ and !~, in the order written, with an optional trailing comma', () => {
    expect(threshold('x{a="1", b!="2", c=~"web-\\\\d+", d!~"tmp|cache",} > 1').source.matchers).toEqual([
      { label: 'a', op: '=', value: '1' },
      { label: 'b', op: '!=', value: '2' },
      { label: 'c', op: '=~', value: 'web-\\d+' },
      { label: 'd', op: '!~', value: 'tmp|cache' },
    ]);
  });

  it('compileMatchers: all must hold; an absent label reads as ""', () => {
    const test = compileMatchers(threshold('x{host=~"web-\\\\d+", env!="dev", zone=""} > 1').source.matchers);
    const labels = (values: Record<string, string>) => (name: string) => values[name];
    expect(test(labels({ host: 'web-12', env: 'prod' }))).toBe(true);
    expect(test(labels({ host: 'web-12' }))).toBe(true);
    expect(test(labels({ host: 'web-x', env: 'prod' }))).toBe(false);
    expect(test(labels({ host: 'web-1', env: 'dev' }))).toBe(false);
    expect(test(labels({ host: 'web-1', zone: 'eu' }))).toBe(false);
    expect(test(labels({ host: 'xweb-1' }))).toBe(false); // fully anchored
  });

  it('a label names a record field of the family when there is one, else a tag (metadata for activities)', () => {
    expect(labelTarget('APPLICATION', 'app')).toEqual({ kind: 'field', field: 'appName' });
    expect(labelTarget('SYSTEM', 'host')).toEqual({ kind: 'field', field: 'host' });
    expect(labelTarget('SYSTEM', 'mount')).toEqual({ kind: 'tag', key: 'mount' });
    expect(labelTarget('PERFORMANCE', 'endpoint')).toEqual({ kind: 'tag', key: 'endpoint' });
    expect(labelTarget('PERFORMANCE', 'statusCode')).toEqual({ kind: 'field', field: 'statusCode' });
    expect(labelTarget('PERFORMANCE', 'app')).toEqual({ kind: 'tag', key: 'app' });
    expect(labelTarget('USER', 'sessionId')).toEqual({ kind: 'field', field: 'sessionId' });
    expect(labelTarget('ACTIVITY', 'activityType')).toEqual({ kind: 'field', field: 'activityType' });
    expect(labelTarget('ACTIVITY', 'plan')).toEqual({ kind: 'metadata', key: 'plan' });
    expect(labelTarget('SYSTEM', 'constructor')).toEqual({ kind: 'tag', key: 'constructor' });
  });

  it('safe pattern subset: classes, groups, alternation, bounded repetition', () => {
    const cases: [string, string, boolean][] = [
      ['web-[0-9]+', 'web-42', true],
      ['web-[0-9]+', 'web-', false],
      ['(eu|us)-(west|east)-\\d', 'eu-west-1', true],
      ['(?:eu|us)-(west|east)-\\d', 'ap-west-1', false],
      ['[^/]+\\.json', 'a.json', true],
      ['[^/]+\\.json', 'a/b.json', false],
      ['a{2,3}', 'aaa', true],
      ['a{2,3}', 'aaaa', false],
      ['a{2}', 'aa', true],
      ['a{2,}', 'aaaaaaa', true],
      ['.*', '', true],
      ['x?', '', true],
      ['\\w+\\s\\S', 'ab c', true],
      ['[a\\-z]', '-', true],
      ['[a-]', '-', true],
      ['é.', 'éü', true],
      ['.', '😀', true],
    ];
    for (const [pattern, value, expected] of cases) expect([pattern, value, compileLabelPattern(pattern).test(value)]).toEqual([pattern, value, expected]);
  });

  it('agrees with JavaScript’s RegExp on random patterns of the subset (seeded)', () => {
    const rng = mulberry32(99);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
    const atom = (depth: number): string => {
      const r = rng();
      if (r < 0.45 || depth > 2) return pick(['a', 'b', '.', '[ab]', '[^a]', '\\d', '\\.', '-', '1']);
      if (r < 0.7) return `(${pattern(depth + 1)})`;
      return `(?:${pattern(depth + 1)}|${pattern(depth + 1)})`;
    };
    const pattern = (depth: number): string =>
      Array.from({ length: 1 + Math.floor(rng() * 3) }, () => atom(depth) + pick(['', '', '*', '+', '?', '{2}', '{0,2}', '{1,}'])).join('');
    let matched = 0;
    let tested = 0;
    for (let i = 0; i < 400; i++) {
      const source = pattern(0);
      if (source.length > 80) continue;
      tested++;
      const mine = compileLabelPattern(source);
      const native = new RegExp(toAnchoredRegExpSource(source), 's');
      for (let j = 0; j < 15; j++) {
        const value = Array.from({ length: Math.floor(rng() * 7) }, () => pick(['a', 'b', '1', '.', '-', 'x'])).join('');
        const expected = native.test(value);
        if (expected) matched++;
        expect([source, value, mine.test(value)]).toEqual([source, value, expected]);
      }
    }
    expect(tested).toBeGreaterThan(150);
    expect(matched).toBeGreaterThan(300);
  });

  it('no catastrophic backtracking: nested quantifiers run in linear time', () => {
    const value = `${'a'.repeat(20_000)}!`;
    const started = performance.now();
    for (const pattern of ['(a+)+b', '(a|a)*b', '(a*)*b', '(.*a){20}', '(a|aa)+$x'.replace('$x', 'c')]) {
      expect(compileLabelPattern(pattern).test(value)).toBe(false);
    }
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses what is outside the subset, pointing into the string', () => {
    const cases: [string, RegExp][] = [
      ['^web', /anchors are not supported/],
      ['web$', /anchors are not supported/],
      ['(?=a)b', /lookaround/],
      ['(?i)web', /lookaround, named groups and inline flags/],
      ['(a)\\1', /unsupported escape "\\1"/],
      ['\\bword', /unsupported escape "\\b"/],
      ['a**', /stacked quantifiers/],
      ['a*?', /lazy, possessive or stacked/],
      ['(ab', /unclosed "\("/],
      ['ab)', /unbalanced "\)"/],
      ['[ab', /unclosed "\["/],
      ['[]', /empty character class/],
      ['[z-a]', /invalid range/],
      ['a{101}', /at most 100/],
      ['a{3,2}', /n ≤ m/],
      ['*a', /nothing to repeat/],
      ['x'.repeat(257), /longer than 256/],
      ['(((a{100}){100}){100})', /too complex/],
    ];
    for (const [pattern, message] of cases) {
      const text = `x{h=~${JSON.stringify(pattern)}} > 1`;
      const error = syntaxError(text);
      expect(error.message).toMatch(message);
      expect(error.position.offset).toBeGreaterThanOrEqual(text.indexOf('"'));
    }
    // The position is the offending character inside the string: here the "^" at offset 6, after the escape at 6–7 in the second.
    expect(syntaxError('x{h=~"^web"} > 1').position).toEqual({ offset: 6, line: 1, column: 7 });
    expect(syntaxError('x{h=~"\\\\.x$"} > 1').position.offset).toBe(10);
  });
});

describe('functions', () => {
  it('avg, min, max, sum, count, last, rate, latest, pNN and quantile', () => {
    for (const fn of ['avg', 'min', 'max', 'sum', 'count', 'last', 'rate']) expect(threshold(`${fn}(x[5m]) > 1`).aggregation).toEqual({ fn });
    expect(threshold('latest(x) > 1')).toEqual(threshold('x > 1'));
    for (const [name, q] of [['p50', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99], ['p1', 0.01], ['p29', 0.29]] as const) {
      expect(threshold(`${name}(x) > 1`).aggregation).toEqual({ fn: 'quantile', q });
    }
    expect(threshold('quantile(0.95, x) > 1')).toEqual(threshold('p95(x) > 1'));
    expect(threshold('quantile(0.999, x[1h]) > 1').aggregation).toEqual({ fn: 'quantile', q: 0.999 });
    expect(threshold('quantile(0, x) > 1').aggregation).toEqual({ fn: 'quantile', q: 0 });
  });

  it('what each source accepts', () => {
    expect(threshold('count(activity) > 1').source.kind).toBe('activity');
    expect(threshold('rate(activity{activityType="purchase"}[1h]) < 0.01').aggregation.fn).toBe('rate');
    expect(syntaxError('activity > 1').message).toMatch(/activities have no value/);
    expect(syntaxError('avg(activity[5m]) > 1').message).toMatch(/use count\(activity…\) or rate\(activity…\), not avg/);
    expect(threshold('error_rate{endpoint="/api/orders"}[5m] > 5').source.window?.seconds).toBe(300);
    expect(syntaxError('max(error_rate[5m]) > 5').message).toMatch(/error_rate is already computed over its window/);
    expect(syntaxError('rate(responseTimeMs) > 5').message).toMatch(/rate\(…\) is meaningless on the field responseTimeMs/);
    expect(threshold('count(responseTimeMs[5m]) > 5').aggregation.fn).toBe('count');
  });
});

describe('errors: ConditionSyntaxError with a position, what was expected and what was found', () => {
  it('the message names the column, the expectation and the token', () => {
    const error = syntaxError('memory_use = 80');
    expect(error.message).toBe('at column 12: expected a comparison (>, >=, <, <=, ==, !=) but found "="; write == to test equality');
    expect(error.position).toEqual({ offset: 11, line: 1, column: 12 });
    expect(error.expected).toBe('a comparison (>, >=, <, <=, ==, !=)');
    expect(error.found).toBe('"="');
    expect(error.snippet).toBe('memory_use = 80\n           ^');
    expect(syntaxError('avg(cpu_usage[5m]) 80').message).toBe('at column 20: expected a comparison (>, >=, <, <=, ==, !=) but found "80"');
  });

  it('refuses each kind of mistake where it is', () => {
    const cases: [string, number, RegExp][] = [
      ['', 0, /expected a metric name.* but found end of input/],
      ['cpu_usage >', 11, /expected a number \(the threshold\) but found end of input/],
      ['cpu_usage > 80 and', 15, /expected end of input but found "and"/],
      ['cpu_usage > 80 80', 15, /expected end of input but found "80"/],
      ['cpu_usage > NaN', 12, /expected a number \(the threshold\) but found "NaN"/],
      ['cpu_usage > Infinity', 12, /but found "Infinity"/],
      ['cpu_usage > 1e999', 12, /must be a finite number/],
      ['cpu_usage > 5m', 12, /expected a number \(the threshold\) but found "5m"/],
      ['cpu_usage > - 5', 12, /unexpected character "-"/],
      ['cpu_usage > 1e', 12, /malformed number "1e"/],
      ['cpu_usage > 5_000', 12, /malformed number/],
      ['stddev(x) > 1', 0, /unknown function "stddev"; expected one of avg, min, max/],
      ['p0(x) > 1', 0, /not a percentile from p1 to p99/],
      ['p100(x) > 1', 0, /not a percentile from p1 to p99/],
      ['p950(x) > 1', 0, /not a percentile/],
      ['quantile(1.5, x) > 1', 9, /the quantile must be from 0 to 1/],
      ['quantile(x) > 1', 9, /expected a number \(the quantile\)/],
      ['avg(anomaly(x)) > 1', 4, /anomaly\(…\) is a whole condition/],
      ['avg(max(x)) > 1', 4, /functions cannot be nested/],
      ['avg(x > 1', 6, /expected "\)" but found ">"/],
      ['avg() > 1', 4, /expected a metric name, responseTimeMs, error_rate or activity but found "\)"/],
      ['x[0s] > 1', 2, /the window must be at least 1s \(found 0s\)/],
      ['x[0d] > 1', 2, /at least 1s/],
      ['x[32d] > 1', 2, /the window must be at most 31d \(found 32d\)/],
      ['x[745h] > 1', 2, /at most 31d/],
      ['x[5ms] > 1', 3, /sub-second durations are not supported/],
      ['x[1.5h] > 1', 2, /whole number .* write 90m/],
      ['x[5min] > 1', 3, /unknown duration unit in "5min"/],
      ['x[5w] > 1', 3, /unknown duration unit/],
      ['x[-5m] > 1', 2, /cannot be negative/],
      ['x[5] > 1', 2, /expected a duration such as 5m but found "5"/],
      ['x[5m > 1', 5, /expected "\]" but found ">"/],
      ['x{} > 1', 1, /empty label matchers/],
      ['x{a} > 1', 3, /expected a label operator \(=, !=, =~, !~\) but found "}"/],
      ['x{a=} > 1', 4, /expected a double-quoted string but found "}"/],
      ["x{a='b'} > 1", 4, /strings are written in double quotes/],
      ['x{a=b} > 1', 4, /expected a double-quoted string but found "b"/],
      ['x{a="b" c="d"} > 1', 8, /expected "," or "}" but found "c"/],
      ['x{a=="b"} > 1', 3, /label operator/],
      ['x{a="b} > 1', 4, /unterminated string/],
      ['x{a="\\d"} > 1', 5, /unknown escape "\\\\d" in a string/],
      ['x{a="\\u12"} > 1', 5, /malformed escape/],
      ['x{a="line\nbreak"} > 1', 9, /control character/],
      ['x{,} > 1', 2, /expected a label name but found ","/],
      ['x[5m]{a="b"} > 1', 5, /expected a comparison/],
      ['x > 1 && y > 2', 6, /unexpected character "&"/],
      ['x @ 1', 2, /unexpected character "@"/],
      ['(x) > 1', 0, /expected a metric name/],
      [`"${'n'.repeat(101)}" > 1`, 0, /name longer than 100 characters/],
    ];
    for (const [text, offset, message] of cases) {
      const error = syntaxError(text);
      expect({ text, offset: error.position.offset, column: error.position.column, message: error.message }).toEqual({
        text,
        offset,
        column: offset + 1,
        message: expect.stringMatching(message),
      });
      if (!text.includes('\n')) expect(error.message.startsWith(`at column ${offset + 1}: `)).toBe(true);
    }
  });

  it('lines and columns when the text has several lines', () => {
    const error = syntaxError('avg(cpu_usage[5m])\n  > 80\n  extra');
    expect(error.position).toEqual({ offset: 28, line: 3, column: 3 });
    expect(error.message).toBe('at line 3, column 3: expected end of input but found "extra"');
    expect(error.snippet).toBe('  extra\n  ^');
  });

  it('at most 1,000 characters', () => {
    const long = `x{a="${'v'.repeat(1000)}"} > 1`;
    const error = syntaxError(long);
    expect(error.position.offset).toBe(1000);
    expect(error.message).toMatch(/longer than 1000 characters/);
    const fits = `x{a="${'v'.repeat(1000 - 11)}"} > 1`;
    expect(fits.length).toBe(1000);
    expect(threshold(fits).source.matchers[0]!.value).toHaveLength(989);
  });

  it('the rule’s kind and family', () => {
    expect(parseCondition('x > 1', { kind: 'THRESHOLD' }).kind).toBe('threshold');
    expect(syntaxError('anomaly(x)', { kind: 'THRESHOLD' }).message).toMatch(/anomaly\(…\) is for ANOMALY rules/);
    expect(syntaxError('x > 1', { kind: 'ANOMALY' }).message).toMatch(/an ANOMALY rule's condition is anomaly\(/);
    expect(parseCondition('count(activity[1h]) < 1', { family: 'ACTIVITY' }).kind).toBe('threshold');
    expect(syntaxError('avg(x) > 1', { family: 'ACTIVITY' }).message).toMatch(/activity rules read user activities/);
  });
});

describe('anomaly conditions', () => {
  it('anomaly(series, option=value, …) with every option resolved', () => {
    const c = parseCondition('anomaly(avg(cpu_usage{host="web-1"}[5m]), model="ewma", baseline="7d", threshold=3)') as AnomalyCondition;
    expect(c).toEqual({
      kind: 'anomaly',
      aggregation: { fn: 'avg' },
      source: src('cpu_usage', { matchers: [{ label: 'host', op: '=', value: 'web-1' }], window: { amount: 5, unit: 'm', seconds: 300 } }),
      options: { model: 'ewma', alpha: 0.05, baseline: { amount: 7, unit: 'd', seconds: 604_800 }, threshold: 3, direction: 'both', seasonality: 'none', minPoints: 20 },
    });
    expect(conditionKind(c)).toBe('ANOMALY');
    // Bare words and duration literals are the canonical spelling of the same options.
    expect(parseCondition('anomaly(avg(cpu_usage{host="web-1"}[5m]), model=ewma, baseline=7d, threshold=3)')).toEqual(c);
  });

  it('defaults: mad, threshold 3, both directions, no seasonality, 20 points; the baseline follows the seasonality', () => {
    expect((parseCondition('anomaly(cpu_usage)') as AnomalyCondition).options).toEqual({
      model: 'mad', baseline: { amount: 1, unit: 'd', seconds: 86_400 }, threshold: 3, direction: 'both', seasonality: 'none', minPoints: 20,
    });
    expect((parseCondition('anomaly(x, seasonality=daily)') as AnomalyCondition).options.baseline.seconds).toBe(7 * 86_400);
    expect((parseCondition('anomaly(x, seasonality=weekly)') as AnomalyCondition).options.baseline.seconds).toBe(28 * 86_400);
  });

  it('every option', () => {
    const c = parseCondition(
      'anomaly(count(activity{activityType="login"}[15m]), model=ewma, alpha=0.2, baseline=14d, threshold=4.5, direction=down, seasonality=weekly, min_points=40,)',
    ) as AnomalyCondition;
    expect(c.options).toEqual({ model: 'ewma', alpha: 0.2, baseline: { amount: 14, unit: 'd', seconds: 1_209_600 }, threshold: 4.5, direction: 'down', seasonality: 'weekly', minPoints: 40 });
    expect(conditionFamily(c, 'SYSTEM')).toBe('ACTIVITY');
  });

  it('refuses bad options where they are', () => {
    const cases: [string, number, RegExp][] = [
      ['anomaly(x, model=prophet)', 17, /model must be one of zscore, ewma, mad \(found "prophet"\)/],
      ['anomaly(x, modle=mad)', 11, /unknown anomaly option "modle"; expected one of model, baseline/],
      ['anomaly(x, model=mad, model=ewma)', 22, /option model is given twice/],
      ['anomaly(x, model)', 16, /expected "=" but found "\)"/],
      ['anomaly(x, threshold=0)', 21, /must be a positive number/],
      ['anomaly(x, threshold=-3)', 21, /must be a positive number/],
      ['anomaly(x, threshold=high)', 21, /expected a number for threshold/],
      ['anomaly(x, min_points=2.5)', 22, /min_points must be a whole number from 3/],
      ['anomaly(x, min_points=2)', 22, /min_points must be a whole number from 3/],
      ['anomaly(x, alpha=0.3)', 11, /alpha applies to model=ewma only/],
      ['anomaly(x, model=ewma, alpha=1)', 29, /alpha must be between 0 and 1/],
      ['anomaly(x, baseline=0d)', 20, /the baseline must be at least 1s/],
      ['anomaly(x, baseline="a week")', 20, /baseline must be a duration such as 7d/],
      ['anomaly(x, baseline=32d)', 20, /at most 31d/],
      ['anomaly(avg(x[2d]))', 0, /the baseline \(1d\) must be longer than the window \(2d\)/],
      ['anomaly(x[1h], baseline=1h)', 24, /must be longer than the window/],
      ['anomaly(x, seasonality=weekly, baseline=3d)', 40, /seasonality=weekly needs a baseline of at least 7d/],
      ['anomaly(x, seasonality=hourly)', 23, /seasonality must be one of none, daily, weekly/],
      ['anomaly(x, direction=sideways)', 21, /direction must be one of both, up, down/],
      ['anomaly(x) > 3', 11, /expected end of input but found ">"/],
      ['anomaly(x; model=mad)', 9, /unexpected character ";"/],
      ['anomaly(x model=mad)', 10, /expected "," or "\)" but found "model"/],
      ['anomaly(activity)', 8, /activities have no value/],
      ['anomaly(avg(error_rate[5m]))', 8, /error_rate is already computed/],
    ];
    for (const [text, offset, message] of cases) {
      const error = syntaxError(text);
      expect({ text, offset: error.position.offset, message: error.message }).toEqual({ text, offset, message: expect.stringMatching(message) });
    }
  });
});

describe('printer: canonical text that parses back to the same AST', () => {
  const examples = [
    'cpu_usage > 80',
    'avg(cpu_usage[5m]) > 80',
    'max(disk_usage{mount="/"}) >= 90',
    'p95(responseTimeMs{endpoint="/api/orders"}[5m]) > 1000',
    'error_rate > 5',
    'rate(page_views{app="shop"}[10m]) < 0.5',
    'count(activity{activityType="login"}[15m]) == 0',
    'quantile(0.999, x[1h]) != -1e-7',
    'x{"odd label"="a\\"b\\\\c\\n", h=~"(eu|us)-\\\\d+", k!~"tmp.*"} <= 1e+21',
    '"2xx"[90m] > 0.000001',
    '"error_rate"{app="shop"} > 5',
    'anomaly(avg(cpu_usage{host="web-1"}[5m]), model="ewma", baseline="7d", threshold=3)',
    'anomaly(p99(responseTimeMs[5m]), direction=up, seasonality=daily, min_points=50)',
  ];

  it('prints the canonical form', () => {
    expect(printCondition(parseCondition('  avg( cpu_usage{ host = "web-1" , }[ 5m ] )>80 '))).toBe('avg(cpu_usage{host="web-1"}[5m]) > 80');
    expect(printCondition(parseCondition('quantile(0.95, x) > 1e3'))).toBe('p95(x) > 1000');
    expect(printCondition(parseCondition('latest(x) > -0'))).toBe('x > 0');
    expect(printCondition(parseCondition('anomaly(avg(cpu_usage{host="web-1"}[5m]), model="ewma", baseline="7d", threshold=3)'))).toBe(
      'anomaly(avg(cpu_usage{host="web-1"}[5m]), model=ewma, alpha=0.05, baseline=7d, threshold=3, direction=both, seasonality=none, min_points=20)',
    );
    expect(printCondition(parseCondition('"with space" > 1'))).toBe('"with space" > 1');
  });

  it('round-trips the examples', () => {
    for (const text of examples) expectRoundTrip(text);
  });

  it('round-trips 1,000 random valid ASTs (seeded)', () => {
    const rng = mulberry32(20_240_601);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
    const names = ['cpu_usage', 'a-b', 'http.server/req:total', '2xx', 'error_rate', 'activity', 'responseTimeMs', 'with space', 'q"uote', 'é', 'avg', 'x_1'];
    const values = ['', 'web-1', '/', 'a"b', 'back\\slash', 'new\nline', '\u0001', 'ü😀', 'eu|us'];
    const patterns = ['web-\\d+', '(eu|us)-.*', '[^/]+', 'a{2,5}', '.*'];
    const numbers = () => pick([0, 1, -1, 80, 0.5, 1e-7, 1.5e21, -0.001, 123456.789, rng() * 1000 - 500, Number.MAX_VALUE, Number.MIN_VALUE]);
    const duration = () => {
      const unit = pick(['s', 'm', 'h', 'd'] as const);
      const max = { s: 2_678_400, m: 44_640, h: 744, d: 31 }[unit];
      const amount = 1 + Math.floor(rng() * rng() * max);
      return { amount, unit, seconds: amount * { s: 1, m: 60, h: 3600, d: 86_400 }[unit] };
    };
    const source = (): Source => {
      const kind = pick(['metric', 'metric', 'field', 'error_rate', 'activity'] as const);
      const name = kind === 'metric' ? pick(names) : kind === 'field' ? 'responseTimeMs' : kind;
      const matchers: LabelMatcher[] = Array.from({ length: Math.floor(rng() * 3) }, () => {
        const op = pick(['=', '!=', '=~', '!~'] as const);
        return { label: pick(['host', 'a.b', 'with space', 'activityType']), op, value: op.length === 2 && op[1] === '~' ? pick(patterns) : pick(values) };
      });
      return { kind, name, isField: kind === 'field', matchers, window: rng() < 0.6 ? duration() : undefined };
    };
    let checked = 0;
    while (checked < 1000) {
      const aggregation = pick([
        { fn: 'latest' }, { fn: 'avg' }, { fn: 'min' }, { fn: 'max' }, { fn: 'sum' }, { fn: 'count' }, { fn: 'last' }, { fn: 'rate' },
        { fn: 'quantile', q: Math.floor(rng() * 100) / 100 }, { fn: 'quantile', q: rng() },
      ] as const);
      const condition: Condition =
        rng() < 0.7
          ? { kind: 'threshold', aggregation, source: source(), comparator: pick(['>', '>=', '<', '<=', '==', '!='] as const), threshold: numbers() }
          : {
              kind: 'anomaly',
              aggregation,
              source: source(),
              options: {
                model: pick(['zscore', 'ewma', 'mad'] as const),
                baseline: duration(),
                threshold: pick([3, 2.5, 6, 0.1]),
                direction: pick(['both', 'up', 'down'] as const),
                seasonality: pick(['none', 'daily', 'weekly'] as const),
                minPoints: pick([3, 20, 100]),
              },
            };
      if (condition.kind === 'anomaly' && condition.options.model === 'ewma') condition.options.alpha = pick([0.05, 0.3, 0.999]);
      if (validateCondition(condition).length > 0) {
        expect(() => printCondition(condition)).toThrow(TypeError);
        continue;
      }
      const printed = printCondition(condition);
      expect([printed, parseCondition(printed)]).toEqual([printed, condition]);
      checked++;
    }
  });

  it('random and mutated text: parses and round-trips, or fails with a ConditionSyntaxError inside the text (seeded)', () => {
    const rng = mulberry32(7);
    const pieces = ['avg', '(', ')', 'x', 'a-b', '{', '}', '[', ']', '5m', '0s', ',', '"v"', '=', '==', '!=', '=~', '>', '<=', '80', '-1e3', ' ', 'p95', 'quantile', '0.5', 'anomaly', 'model', 'ewma', 'error_rate', 'activity', 'count', '"', '\\', '.', '-', '\n', '😀'];
    const piece = () => pieces[Math.floor(rng() * pieces.length)]!;
    const mutate = (text: string) => {
      const at = Math.floor(rng() * (text.length + 1));
      const r = rng();
      if (r < 0.4) return text.slice(0, at) + text.slice(at + 1); // delete a character
      if (r < 0.8) return text.slice(0, at) + piece() + text.slice(at); // insert a piece
      return text.slice(0, at) + piece() + text.slice(at + 1); // replace a character
    };
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const text = i % 2 === 0
        ? Array.from({ length: 1 + Math.floor(rng() * 12) }, piece).join('')
        : mutate(examples[Math.floor(rng() * examples.length)]!);
      try {
        const ast = parseCondition(text);
        expect(parseCondition(printCondition(ast))).toEqual(ast);
        parsed++;
      } catch (error) {
        if (!(error instanceof ConditionSyntaxError)) throw new Error(`${JSON.stringify(text)} threw ${String(error)}`);
        expect(error.position.offset).toBeGreaterThanOrEqual(0);
        expect(error.position.offset).toBeLessThanOrEqual(text.length);
        expect(error.message).toMatch(/^at (line \d+, )?column \d+: /);
        refused++;
      }
    }
    expect(parsed).toBeGreaterThan(150);
    expect(refused).toBeGreaterThan(1500);
  });

  it('refuses to print an AST that would not parse back', () => {
    const bad: ThresholdCondition = { kind: 'threshold', aggregation: { fn: 'avg' }, source: src('x', { window: { amount: 0, unit: 's', seconds: 0 } }), comparator: '>', threshold: NaN };
    expect(validateCondition(bad).map((i) => i.path)).toEqual(['source.window', 'threshold']);
    expect(() => printCondition(bad)).toThrow(/cannot print an invalid condition/);
    const wrongKind: ThresholdCondition = { kind: 'threshold', aggregation: { fn: 'latest' }, source: { ...src('cpu'), kind: 'error_rate' }, comparator: '>', threshold: 1 };
    expect(validateCondition(wrongKind)[0]?.path).toBe('source');
    expect(validateCondition(parseCondition('avg(cpu[5m]) > 1'), 'ACTIVITY')[0]?.message).toMatch(/activity rules/);
  });
});

describe('compare', () => {
  it('applies the comparator; NaN (no data) is never true', () => {
    expect(compare(81, '>', 80)).toBe(true);
    expect(compare(80, '>', 80)).toBe(false);
    expect(compare(80, '>=', 80)).toBe(true);
    expect(compare(79, '<', 80)).toBe(true);
    expect(compare(80, '<=', 80)).toBe(true);
    expect(compare(0, '==', 0)).toBe(true);
    expect(compare(1, '!=', 0)).toBe(true);
    expect(compare(NaN, '!=', 0)).toBe(false);
  });
});
