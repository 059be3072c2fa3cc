/** Where in the condition text something is: offset is 0-based (UTF-16 units), line and column 1-based. */
export interface ConditionPosition {
  offset: number;
  line: number;
  column: number;
}

export function positionAt(input: string, offset: number): ConditionPosition {
  const clamped = Math.max(0, Math.min(offset, input.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < clamped; i++) {
    if (input.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset: clamped, line, column: clamped - lineStart + 1 };
}

/** How a token or the end of input is shown in messages: `"abc"` (JSON-quoted, cut at 24 characters) or `end of input`. */
export function describeFound(text: string | undefined): string {
  if (text === undefined || text === '') return 'end of input';
  return JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text);
}

/**
 * A condition that cannot be accepted: malformed (syntax) or meaningless (e.g. an unknown function, a window of 0s).
 * `message` reads `at column 12: expected a comparison (>, >=, <, <=, ==, !=) but found "="`
 * (`at line 2, column 3: …` when the text has several lines).
 */
export class ConditionSyntaxError extends Error {
  override readonly name = 'ConditionSyntaxError';
  readonly position: ConditionPosition;
  /** What would have been accepted there, e.g. `a comparison (>, >=, <, <=, ==, !=)`. */
  readonly expected: string;
  /** What was there: a JSON-quoted token or `end of input`. */
  readonly found: string;
  /** The message without its location prefix. */
  readonly detail: string;
  readonly input: string;

  constructor(input: string, offset: number, expected: string, found: string, detail?: string) {
    const position = positionAt(input, offset);
    const text = detail ?? `expected ${expected} but found ${found}`;
    const where = position.line > 1 || input.includes('\n') ? `line ${position.line}, column ${position.column}` : `column ${position.column}`;
    super(`at ${where}: ${text}`);
    this.position = position;
    this.expected = expected;
    this.found = found;
    this.detail = text;
    this.input = input;
  }

  /** The offending line with a caret under the position, for UIs and logs. */
  get snippet(): string {
    const lines = this.input.split('\n');
    const line = lines[this.position.line - 1] ?? '';
    return `${line}\n${' '.repeat(this.position.column - 1)}^`;
  }
}
