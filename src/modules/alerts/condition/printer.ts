/**
 * Canonical text of a condition: parseCondition(printCondition(ast)) is deep-equal to ast, and printing is
 * idempotent (print ∘ parse ∘ print = print). Canonical form: no space inside {…}, […] and function calls
 * except after commas, one space around the comparator, percentiles as pNN when q is a whole percent (else
 * quantile(q, …)), `latest` left implicit, every anomaly option written out in a fixed order.
 */
import { BUILTIN_SOURCES, FIELDS, type Aggregation, type Condition, type Duration, type LabelMatcher, type Source } from './ast.js';
import { validateCondition } from './semantics.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;

/** Prints a condition; throws a TypeError for an AST that validateCondition refuses (it would not parse back). */
export function printCondition(condition: Condition): string {
  const issues = validateCondition(condition);
  if (issues.length > 0) throw new TypeError(`cannot print an invalid condition: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  const series = printSeries(condition.aggregation, condition.source);
  if (condition.kind === 'threshold') return `${series} ${condition.comparator} ${printNumber(condition.threshold)}`;
  const o = condition.options;
  const parts = [
    series,
    `model=${o.model}`,
    ...(o.alpha !== undefined ? [`alpha=${printNumber(o.alpha)}`] : []),
    `baseline=${printDuration(o.baseline)}`,
    `threshold=${printNumber(o.threshold)}`,
    `direction=${o.direction}`,
    `seasonality=${o.seasonality}`,
    `min_points=${printNumber(o.minPoints)}`,
  ];
  return `anomaly(${parts.join(', ')})`;
}

export function printSeries(aggregation: Aggregation, source: Source): string {
  const inner = printSource(source);
  if (aggregation.fn === 'latest') return inner;
  if (aggregation.fn === 'quantile') {
    const percent = Math.round(aggregation.q * 100);
    if (percent >= 1 && percent <= 99 && percent / 100 === aggregation.q) return `p${percent}(${inner})`;
    return `quantile(${printNumber(aggregation.q)}, ${inner})`;
  }
  return `${aggregation.fn}(${inner})`;
}

export function printSource(source: Source): string {
  const reserved = (BUILTIN_SOURCES as readonly string[]).includes(source.name) || Object.hasOwn(FIELDS, source.name);
  const name = source.kind !== 'metric' || (IDENT.test(source.name) && !reserved) ? source.name : printString(source.name);
  const matchers = source.matchers.length > 0 ? `{${source.matchers.map(printMatcher).join(', ')}}` : '';
  const window = source.window ? `[${printDuration(source.window)}]` : '';
  return `${name}${matchers}${window}`;
}

function printMatcher(m: LabelMatcher): string {
  return `${IDENT.test(m.label) ? m.label : printString(m.label)}${m.op}${printString(m.value)}`;
}

export function printDuration(d: Duration): string {
  return `${d.amount}${d.unit}`;
}

/** Shortest text that reads back as the same number (JavaScript's own; exponents such as 1e+21 are lexed). */
export function printNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`cannot print ${n}`);
  return String(n === 0 ? 0 : n);
}

/** A double-quoted string using the grammar's escapes (\" \\ \n \t \r \uXXXX for other control characters). */
export function printString(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch.charCodeAt(0) < 0x20) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
