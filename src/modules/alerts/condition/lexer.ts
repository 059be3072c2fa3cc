/**
 * Tokenizer of the condition grammar (lexical rules in ../README.md). It is pulled one token at a time by the
 * parser, so errors come out in reading order.
 */
import { DURATION_UNIT_SECONDS, type Duration, type DurationUnit } from './ast.js';
import { ConditionSyntaxError, describeFound } from './errors.js';

export type TokenType = 'ident' | 'string' | 'number' | 'duration' | 'op' | '(' | ')' | '{' | '}' | '[' | ']' | ',' | 'eof';

export interface Token {
  type: TokenType;
  /** Offsets in the input: [start, end). */
  start: number;
  end: number;
  /** The raw text ('' at the end of input). */
  text: string;
  /** string: the decoded value; others: the raw text. */
  value: string;
  /** number: its value. */
  num?: number;
  /** duration: its value. */
  duration?: Duration;
  /** string: the input offset of each UTF-16 unit of `value` (to point inside a pattern). */
  offsets?: number[];
}

const IDENT = /[A-Za-z_][A-Za-z0-9_.:/-]*/y;
const NUMBER = /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const SUFFIX = /[A-Za-z0-9_]*/y;
const OPERATORS = ['>=', '<=', '==', '!=', '=~', '!~', '>', '<', '='] as const;
const PUNCTUATION = new Set(['(', ')', '{', '}', '[', ']', ',']);
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r', '/': '/' };

function match(re: RegExp, input: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(input)?.[0];
}

export class Lexer {
  private pos = 0;

  constructor(private readonly input: string) {}

  private fail(offset: number, expected: string, found: string, detail?: string): never {
    throw new ConditionSyntaxError(this.input, offset, expected, found, detail);
  }

  next(): Token {
    const input = this.input;
    while (this.pos < input.length && /\s/.test(input[this.pos]!)) this.pos++;
    const start = this.pos;
    if (start >= input.length) return { type: 'eof', start, end: start, text: '', value: '' };
    const ch = input[start]!;

    if (PUNCTUATION.has(ch)) {
      this.pos++;
      return { type: ch as TokenType, start, end: this.pos, text: ch, value: ch };
    }
    if (ch === '"') return this.string(start);
    if (/[0-9.]/.test(ch) || (ch === '-' && /[0-9.]/.test(input[start + 1] ?? ''))) return this.numberOrDuration(start);
    const ident = match(IDENT, input, start);
    if (ident) {
      this.pos = start + ident.length;
      return { type: 'ident', start, end: this.pos, text: ident, value: ident };
    }
    for (const op of OPERATORS) {
      if (input.startsWith(op, start)) {
        this.pos = start + op.length;
        return { type: 'op', start, end: this.pos, text: op, value: op };
      }
    }
    if (ch === "'" || ch === '`') {
      this.fail(start, 'a double-quoted string', describeFound(ch), `strings are written in double quotes, found ${describeFound(ch)}`);
    }
    const char = String.fromCodePoint(input.codePointAt(start)!);
    this.fail(start, 'a name, number, string, operator or bracket', describeFound(char), `unexpected character ${describeFound(char)}`);
  }

  private numberOrDuration(start: number): Token {
    const input = this.input;
    const text = match(NUMBER, input, start);
    if (!text || text === '-' || text === '.' || text === '-.') {
      this.fail(start, 'a number', describeFound(input.slice(start, start + 2)), `malformed number ${describeFound(input.slice(start, start + 2))}`);
    }
    const end = start + text.length;
    const suffix = match(SUFFIX, input, end) ?? '';
    if (suffix === '') {
      this.pos = end;
      return { type: 'number', start, end, text, value: text, num: Number(text) };
    }
    // A number glued to letters: a duration such as 5m, or a mistake.
    const whole = text + suffix;
    const found = describeFound(whole);
    if (!(Object.hasOwn(DURATION_UNIT_SECONDS, suffix))) {
      if (/^(ms|us|ns)$/.test(suffix)) {
        this.fail(end, 'a duration unit (s, m, h, d)', found, `sub-second durations are not supported (found ${found}); the smallest unit is s`);
      }
      if (/^\d/.test(suffix) || suffix.startsWith('_')) this.fail(start, 'a number', found, `malformed number ${found}`);
      if (/^[eE]/.test(suffix) && !/^[eE][a-zA-Z]/.test(suffix)) this.fail(start, 'a number', found, `malformed number ${found}`);
      this.fail(end, 'a duration unit (s, m, h, d)', found, `unknown duration unit in ${found}; expected s, m, h or d`);
    }
    if (text.startsWith('-')) this.fail(start, 'a positive duration', found, `a duration cannot be negative (found ${found})`);
    if (!/^\d+$/.test(text)) {
      this.fail(start, 'a whole number of s, m, h or d', found, `a duration is a whole number of a unit (found ${found}); e.g. write 90m for 1.5h`);
    }
    const unit = suffix as DurationUnit;
    const amount = Number(text);
    this.pos = end + suffix.length;
    return {
      type: 'duration',
      start,
      end: this.pos,
      text: whole,
      value: whole,
      duration: { amount, unit, seconds: amount * DURATION_UNIT_SECONDS[unit] },
    };
  }

  private string(start: number): Token {
    const input = this.input;
    let i = start + 1;
    let value = '';
    const offsets: number[] = [];
    for (;;) {
      if (i >= input.length) {
        this.fail(start, 'a closing "', 'end of input', 'unterminated string: expected a closing " but found end of input');
      }
      const c = input[i]!;
      if (c === '"') break;
      if (c === '\\') {
        const e = input[i + 1];
        if (e === undefined) this.fail(i, 'an escape (\\", \\\\, \\n, \\t, \\r, \\/, \\uXXXX)', 'end of input');
        if (Object.hasOwn(ESCAPES, e)) {
          value += ESCAPES[e];
          offsets.push(i);
          i += 2;
          continue;
        }
        if (e === 'u') {
          const hex = input.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.fail(i, 'four hex digits after \\u', describeFound(`\\u${hex}`), `malformed escape ${describeFound(`\\u${hex}`)}; expected \\u and four hex digits`);
          }
          value += String.fromCharCode(parseInt(hex, 16));
          offsets.push(i);
          i += 6;
          continue;
        }
        const found = describeFound(`\\${e}`);
        this.fail(i, 'an escape (\\", \\\\, \\n, \\t, \\r, \\/, \\uXXXX)', found, `unknown escape ${found} in a string; write \\\\ for a backslash (e.g. "\\\\d+" in a pattern)`);
      }
      if (c.charCodeAt(0) < 0x20) {
        this.fail(i, 'a printable character', describeFound(c), `control character ${describeFound(c)} in a string; write it as an escape (\\n, \\t, \\r, \\uXXXX)`);
      }
      value += c;
      offsets.push(i);
      i++;
    }
    this.pos = i + 1;
    offsets.push(i);
    return { type: 'string', start, end: this.pos, text: input.slice(start, this.pos), value, offsets };
  }
}
