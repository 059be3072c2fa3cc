import { z } from 'zod';

/** Limits on what one record or argument may carry; see README "Input limits". */
export const LIMITS = {
  nameMaxLength: 100,
  unitMaxLength: 20,
  tagCount: 32,
  tagKeyMaxLength: 100,
  jsonMaxBytes: 16 * 1024,
  idMaxLength: 255,
  textMaxLength: 4096,
  futureSkewMs: 60 * 60 * 1000,
  /** Far beyond any real measurement, yet small enough that sums over millions of rows stay finite. */
  valueMaxAbs: 1e100,
  responseTimeMaxMs: 1e9,
  ipAddressMaxLength: 45,
} as const;

/** One thing wrong with a caller's input, named the way the caller wrote it. */
export interface InputIssue {
  /** Where the problem is: `input[3].metricName`, `input.systemMetrics[0].tags`, `filter.from`. */
  path: string;
  /** Index of the item within its list, when the input is a list. */
  index: number | null;
  field: string;
  message: string;
}

/** A caller mistake: reported as BAD_USER_INPUT with every issue in `extensions.issues`; nothing is written. */
export class InputValidationError extends Error {
  constructor(readonly issues: InputIssue[]) {
    const shown = issues.slice(0, 20).map((issue) => `${issue.path}: ${issue.message}`);
    const more = issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '';
    super(`Invalid input (${issues.length} problem${issues.length === 1 ? '' : 's'}): ${shown.join('; ')}${more}`);
    this.name = 'InputValidationError';
  }
}

/**
 * One issue at `path` (`groupByTag`, `input.widgets[2].query`). The field is the last segment of the path, and
 * the index the last `[n]` in it, unless given.
 */
export function issue(path: string, message: string, options: { field?: string; index?: number | null } = {}): InputIssue {
  const indexMatch = /\[(\d+)\](?!.*\[\d+\])/.exec(path);
  const field = options.field ?? path.replace(/\[\d+\]$/, '').split('.').pop() ?? path;
  const index = options.index !== undefined ? options.index : indexMatch ? Number(indexMatch[1]) : null;
  return { path, index, field, message };
}

/** An InputValidationError with a single issue at `path`. */
export function invalidInput(path: string, message: string, options?: { field?: string; index?: number | null }): InputValidationError {
  return new InputValidationError([issue(path, message, options)]);
}

/** Turns zod issues into InputIssues under `prefix` (for small admin and filter inputs). */
export function issuesFromZod(issues: readonly z.core.$ZodIssue[], prefix: string): InputIssue[] {
  return issues.map((zodIssue) => {
    const segments = zodIssue.path.map(String);
    const field = segments.join('.');
    const path = zodIssue.path.reduce<string>(
      (text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${String(segment)}` : String(segment)),
      prefix,
    );
    const lastIndex = [...zodIssue.path].reverse().find((segment) => typeof segment === 'number');
    return { path, index: typeof lastIndex === 'number' ? lastIndex : null, field, message: zodIssue.message };
  });
}

/** Parses `input` with `schema`, or throws an InputValidationError naming every problem under `prefix`. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, input: unknown, prefix: string): z.output<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) throw new InputValidationError(issuesFromZod(result.error.issues, prefix));
  return result.data;
}

// PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses unpaired surrogates; refusing them here
// keeps them caller errors rather than failed statements.
const LONE_SURROGATE = /\p{Cs}/u;
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(value)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}

/** What PostgreSQL's jsonb would refuse or silently change: bad strings, and numbers JSON cannot carry. */
export function jsonProblem(value: unknown): string | null {
  if (typeof value === 'string') return textProblem(value);
  if (typeof value === 'number') return Number.isFinite(value) ? null : 'must not contain non-finite numbers';
  if (Array.isArray(value)) {
    for (const inner of value) {
      const problem = jsonProblem(inner);
      if (problem) return problem;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const key in value) {
      const problem = textProblem(key) ?? jsonProblem((value as Record<string, unknown>)[key]);
      if (problem) return problem;
    }
  }
  return null;
}

/**
 * An upper bound on the UTF-8 size of JSON.stringify(value), stopping once it passes `limit`: each UTF-16 unit
 * of a string takes at most 6 bytes (a \uXXXX escape), a number at most 32 characters. Most values are far
 * below the limit, so checking the bound first spares serialising every JSON field twice.
 */
function jsonSizeBound(value: unknown, limit: number): number {
  if (typeof value === 'string') return 2 + 6 * value.length;
  if (typeof value === 'number') return 32;
  if (typeof value !== 'object' || value === null) return 5;
  let size = 2;
  if (Array.isArray(value)) {
    for (const inner of value) {
      size += 1 + jsonSizeBound(inner, limit);
      if (size > limit) return size;
    }
    return size;
  }
  for (const key in value) {
    size += 4 + 6 * key.length + jsonSizeBound((value as Record<string, unknown>)[key], limit);
    if (size > limit) return size;
  }
  return size;
}

/** Whether value, as JSON, takes more than `limit` bytes of UTF-8. */
export function jsonLargerThan(value: unknown, limit: number): boolean {
  if (jsonSizeBound(value, limit) <= limit) return false;
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8') > limit;
}

/** A string of at most `max` characters that PostgreSQL can store as given (zod form, for filters and admin inputs). */
export const text = (max: number) =>
  z
    .string()
    .max(max, { message: `must be at most ${max} characters` })
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

/** A tag key or metric name as records carry them. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:/-]+$/;

/** A flat tag object: what filters and matchers accept (the same rules as stored tags). */
export const flatTags = z
  .record(text(LIMITS.tagKeyMaxLength), z.union([text(LIMITS.jsonMaxBytes), z.number().refine(Number.isFinite), z.boolean()]), {
    message: 'must be a flat object of string, number or boolean values',
  })
  .refine((value) => Object.keys(value).length <= LIMITS.tagCount, { message: `must have at most ${LIMITS.tagCount} entries` });

// Region names (and their aliases, e.g. Asia/Kolkata) that both ICU and PostgreSQL know; offsets such as
// "+05:00" are refused because PostgreSQL reads their sign the POSIX way, opposite to ISO 8601.
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
export function isKnownTimeZone(name: string): boolean {
  if (name.length > 64 || !TIME_ZONE_NAME.test(name)) return false;
  if (KNOWN_TIME_ZONES.has(name)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
  } catch {
    return false;
  }
  // Building a formatter costs about 0.1 ms, and every analytics read checks its zone: the few zones in use are
  // remembered (at most the ~600 names ICU knows, so this cannot grow without bound).
  KNOWN_TIME_ZONES.add(name);
  return true;
}

const KNOWN_TIME_ZONES = new Set<string>();

/** An IANA time zone (zod form). */
export const timeZone = z.string().refine(isKnownTimeZone, { message: 'must be an IANA time zone such as UTC or Europe/Paris' });
