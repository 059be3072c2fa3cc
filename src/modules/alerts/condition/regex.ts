/**
 * Label patterns for `=~` / `!~`: a safe subset of regular expressions, always fully anchored, matched by a
 * Thompson NFA simulation in time linear in the value's length (at most value length × program size steps).
 * No backtracking happens, so no pattern can be catastrophic (`(a+)+b` is as cheap as `a+b`).
 *
 * Supported: literal characters; `.` (any character); classes `[a-z0-9_-]`, `[^…]`; `\d \w \s \D \W \S`,
 * `\n \t \r` and an escaped metacharacter (`\.` `\*` …); groups `( … )` and `(?: … )` (nothing is captured);
 * alternation `|`; quantifiers `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (n, m ≤ 100).
 * Refused: anchors `^` `$` (the whole value always has to match, as in PromQL), backreferences, lookaround,
 * named groups, inline flags, lazy/possessive quantifiers, `\b` and every other escape; patterns longer than
 * 256 characters or compiling to more than 4,000 states.
 * Every accepted pattern means the same in JavaScript (`toAnchoredRegExpSource`) and in PostgreSQL's `~`.
 */
import { LIMITS } from './ast.js';

export class PatternError extends Error {
  override readonly name = 'PatternError';
  constructor(
    /** 0-based index in the pattern. */
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

type Node =
  | { t: 'char'; test: (cp: number) => boolean }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'repeat'; node: Node; min: number; max: number /* Infinity: unbounded */ };

const META = new Set([...'.^$|?*+()[]{}\\/-']);
const MAX_REPEAT = 100;
const MAX_STATES = 4000;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isWord = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const CLASS_ESCAPES: Record<string, (c: number) => boolean> = {
  d: isDigit,
  w: isWord,
  s: isSpace,
  D: (c) => !isDigit(c),
  W: (c) => !isWord(c),
  S: (c) => !isSpace(c),
};
const CHAR_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13 };

class PatternParser {
  private i = 0;
  constructor(private readonly src: string) {}

  private fail(message: string, at = this.i): never {
    throw new PatternError(at, message);
  }

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.src.length) this.fail(`unbalanced ")" in pattern`);
    return node;
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') items.push(this.repeat());
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  }

  private repeat(): Node {
    const atomAt = this.i;
    let node = this.atom();
    let quantified = false;
    for (;;) {
      const c = this.src[this.i];
      let min: number, max: number;
      if (c === '*' || c === '+' || c === '?') {
        this.i++;
        [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
      } else if (c === '{') {
        [min, max] = this.bounds();
      } else {
        return node;
      }
      if (quantified) this.fail('lazy, possessive or stacked quantifiers are not supported', this.i - 1);
      if (node.t === 'seq' && node.items.length === 0) this.fail('nothing to repeat', atomAt);
      node = { t: 'repeat', node, min, max };
      quantified = true;
    }
  }

  private bounds(): [number, number] {
    const start = this.i;
    const m = /^\{(\d{1,3})(?:(,)(\d{1,3})?)?\}/.exec(this.src.slice(this.i));
    if (!m) this.fail('malformed repetition; expected {n}, {n,} or {n,m}', start);
    this.i += m[0].length;
    const min = Number(m[1]);
    const max = m[2] ? (m[3] === undefined ? Infinity : Number(m[3])) : min;
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) this.fail(`repetition counts are at most ${MAX_REPEAT}`, start);
    if (max < min) this.fail('repetition {n,m} needs n ≤ m', start);
    return [min, max];
  }

  private atom(): Node {
    const c = this.src[this.i]!;
    const at = this.i;
    if (c === '(') {
      this.i++;
      if (this.src[this.i] === '?') {
        if (this.src[this.i + 1] !== ':') this.fail('lookaround, named groups and inline flags are not supported; use (…) or (?:…)', at);
        this.i += 2;
      }
      const inner = this.alternation();
      if (this.src[this.i] !== ')') this.fail('unclosed "(" in pattern', at);
      this.i++;
      return inner;
    }
    if (c === '[') return this.charClass();
    if (c === '.') {
      this.i++;
      return { t: 'char', test: () => true };
    }
    if (c === '\\') {
      const e = this.src[this.i + 1];
      if (e === undefined) this.fail('pattern ends with a lone backslash');
      this.i += 2;
      if (Object.hasOwn(CLASS_ESCAPES, e)) return { t: 'char', test: CLASS_ESCAPES[e]! };
      if (Object.hasOwn(CHAR_ESCAPES, e)) return literal(CHAR_ESCAPES[e]!);
      if (META.has(e)) return literal(e.codePointAt(0)!);
      this.fail(`unsupported escape "\\${e}" in pattern`, at);
    }
    if (c === '^' || c === '$') this.fail(`anchors are not supported: patterns always match the whole value`, at);
    if (c === '*' || c === '+' || c === '?' || c === '{') this.fail('nothing to repeat', at);
    if (c === ']' || c === '}') this.fail(`escape "${c}" as "\\${c}"`, at);
    const cp = this.src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return literal(cp);
  }

  private charClass(): Node {
    const at = this.i;
    this.i++;
    let negated = false;
    if (this.src[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const tests: ((c: number) => boolean)[] = [];
    let first = true;
    for (;;) {
      if (this.i >= this.src.length) this.fail('unclosed "[" in pattern', at);
      const c = this.src[this.i]!;
      if (c === ']') {
        if (first) this.fail('empty character class', at);
        this.i++;
        break;
      }
      first = false;
      const lo = this.classChar();
      if (typeof lo === 'function') {
        tests.push(lo);
        continue;
      }
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        const dash = this.i;
        this.i++;
        const hi = this.classChar();
        if (typeof hi === 'function' || hi < lo) this.fail('invalid range in character class', dash);
        tests.push((x) => x >= lo && x <= hi);
      } else {
        tests.push((x) => x === lo);
      }
    }
    const any = (x: number) => tests.some((t) => t(x));
    return { t: 'char', test: negated ? (x) => !any(x) : any };
  }

  /** One member of a class: a code point, or a predicate for \d and friends. */
  private classChar(): number | ((c: number) => boolean) {
    const c = this.src[this.i]!;
    if (c === '\\') {
      const e = this.src[this.i + 1];
      if (e === undefined) this.fail('pattern ends with a lone backslash');
      this.i += 2;
      if (Object.hasOwn(CLASS_ESCAPES, e)) return CLASS_ESCAPES[e]!;
      if (Object.hasOwn(CHAR_ESCAPES, e)) return CHAR_ESCAPES[e]!;
      if (META.has(e)) return e.codePointAt(0)!;
      this.fail(`unsupported escape "\\${e}" in pattern`, this.i - 2);
    }
    if (c === '[') this.fail('escape "[" inside a class as "\\["');
    const cp = this.src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }
}

function literal(cp: number): Node {
  return { t: 'char', test: (c) => c === cp };
}

type State = { k: 'char'; test: (cp: number) => boolean; out: number } | { k: 'split'; a: number; b: number } | { k: 'match' };

/** Compiles to an NFA, built backwards: each node is given the state that follows it and returns its entry state. */
function compile(root: Node): State[] {
  const states: State[] = [{ k: 'match' }];
  const add = (s: State) => {
    if (states.length >= MAX_STATES) throw new PatternError(0, `pattern too complex (more than ${MAX_STATES} states)`);
    states.push(s);
    return states.length - 1;
  };
  const build = (node: Node, next: number): number => {
    switch (node.t) {
      case 'char':
        return add({ k: 'char', test: node.test, out: next });
      case 'seq': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = build(node.items[i]!, entry);
        return entry;
      }
      case 'alt': {
        let entry = build(node.options[node.options.length - 1]!, next);
        for (let i = node.options.length - 2; i >= 0; i--) entry = add({ k: 'split', a: build(node.options[i]!, next), b: entry });
        return entry;
      }
      case 'repeat': {
        let entry = next;
        if (node.max === Infinity) {
          const loop = add({ k: 'split', a: -1, b: next });
          (states[loop] as { a: number }).a = build(node.node, loop);
          entry = loop;
        } else {
          for (let i = node.min; i < node.max; i++) entry = add({ k: 'split', a: build(node.node, entry), b: next });
        }
        for (let i = 0; i < node.min; i++) entry = build(node.node, entry);
        return entry;
      }
    }
  };
  const start = build(root, 0);
  // The entry state goes last so the simulation knows where to start.
  states.push({ k: 'split', a: start, b: start });
  return states;
}

export interface LabelPattern {
  readonly source: string;
  test(value: string): boolean;
}

/** Compiles a pattern of the safe subset; throws PatternError (with the index in the pattern) otherwise. */
export function compileLabelPattern(source: string): LabelPattern {
  if (source.length > LIMITS.maxPatternLength) {
    throw new PatternError(LIMITS.maxPatternLength, `pattern longer than ${LIMITS.maxPatternLength} characters`);
  }
  const states = compile(new PatternParser(source).parse());
  const entry = states.length - 1;
  const mark = new Int32Array(states.length).fill(-1);
  return {
    source,
    test(value: string): boolean {
      let generation = 0;
      let current: number[] = [];
      const addState = (list: number[], s: number) => {
        // Iterative closure over split states (an explicit stack keeps deep patterns off the call stack).
        const stack = [s];
        while (stack.length > 0) {
          const i = stack.pop()!;
          if (mark[i] === generation) continue;
          mark[i] = generation;
          const st = states[i]!;
          if (st.k === 'split') stack.push(st.b, st.a);
          else list.push(i);
        }
      };
      mark.fill(-1);
      addState(current, entry);
      for (const ch of value) {
        const cp = ch.codePointAt(0)!;
        generation++;
        const next: number[] = [];
        for (const i of current) {
          const st = states[i]!;
          if (st.k === 'char' && st.test(cp)) addState(next, st.out);
        }
        current = next;
        if (current.length === 0) return false;
      }
      return current.some((i) => states[i]!.k === 'match');
    },
  };
}

/** `^(?:pattern)$`, for engines that are given the pattern directly (JavaScript, PostgreSQL `~`). */
export function toAnchoredRegExpSource(source: string): string {
  return `^(?:${source})$`;
}
