import { isIP } from 'node:net';
import { z } from 'zod';
import type {
  ApplicationMetricRow,
  Family,
  PerformanceMetricRow,
  RowsByFamily,
  SystemMetricRow,
  UserActivityRow,
  UserMetricRow,
} from './families.js';
import { METRIC_TYPES } from './families.js';
import type { JsonObject, JsonValue } from './json.js';

/** Limits on what one record may carry; see README "Input limits". */
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

const NAME_PATTERN = /^[A-Za-z0-9_.:/-]+$/;
// PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses unpaired surrogates; refusing them here
// keeps them caller errors rather than failed statements.
const LONE_SURROGATE = /\p{Cs}/u;
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(value)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}
const hasNul = (value: string) => textProblem(value) !== null;

const name = z
  .string()
  .min(1, { message: 'must not be empty' })
  .max(LIMITS.nameMaxLength, { message: `must be at most ${LIMITS.nameMaxLength} characters` })
  .regex(NAME_PATTERN, { message: 'may only contain letters, digits and _ . : / -' });

/** A string of at most `max` characters that PostgreSQL can store as given. */
export const text = (max: number) =>
  z
    .string()
    .max(max, { message: `must be at most ${max} characters` })
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const requiredId = text(LIMITS.idMaxLength).min(1, { message: 'must not be empty' });
const optionalText = (max: number) => text(max).nullish().transform((value) => value ?? null);

const finiteNumber = z.number({ message: 'must be a number' }).refine(Number.isFinite, { message: 'must be finite' });
const metricValue = finiteNumber.refine((value) => Math.abs(value) <= LIMITS.valueMaxAbs, {
  message: `must be between -${LIMITS.valueMaxAbs} and ${LIMITS.valueMaxAbs}`,
});

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/** What PostgreSQL's jsonb would refuse or silently change: bad strings, and numbers JSON cannot carry. */
function jsonProblem(value: unknown): string | null {
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
    for (const [key, inner] of Object.entries(value)) {
      const problem = textProblem(key) ?? jsonProblem(inner);
      if (problem) return problem;
    }
  }
  return null;
}

const jsonField = z
  .custom<JsonValue>(() => true)
  .superRefine((value, ctx) => {
    if (value === undefined || value === null) return;
    if (jsonBytes(value) > LIMITS.jsonMaxBytes) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${LIMITS.jsonMaxBytes} bytes as JSON` });
    } else {
      const problem = jsonProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
  })
  .nullish()
  .transform((value): JsonValue | null => value ?? null);

const tags = z
  .custom<JsonObject>(() => true)
  .superRefine((value, ctx) => {
    if (value === undefined || value === null) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'must be an object of string, number or boolean values' });
      return;
    }
    const entries = Object.entries(value);
    if (entries.length > LIMITS.tagCount) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${LIMITS.tagCount} entries` });
      return;
    }
    for (const [key, inner] of entries) {
      if (key.length === 0 || key.length > LIMITS.tagKeyMaxLength || hasNul(key)) {
        ctx.addIssue({ code: 'custom', message: `key "${key.slice(0, 40)}" must be 1-${LIMITS.tagKeyMaxLength} characters` });
        return;
      }
      const kind = typeof inner;
      if (kind !== 'string' && kind !== 'number' && kind !== 'boolean') {
        ctx.addIssue({ code: 'custom', message: `value of "${key}" must be a string, number or boolean (tags are flat)` });
        return;
      }
      const problem = jsonProblem(inner);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: `value of "${key}" ${problem}` });
        return;
      }
    }
    if (jsonBytes(value) > LIMITS.jsonMaxBytes) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${LIMITS.jsonMaxBytes} bytes as JSON` });
    }
  })
  .nullish()
  .transform((value): JsonObject => value ?? {});

function timestampField(receivedAt: Date) {
  return z
    .date({ message: 'must be a date-time' })
    .nullish()
    .superRefine((value, ctx) => {
      if (!value) return;
      if (Number.isNaN(value.getTime())) ctx.addIssue({ code: 'custom', message: 'must be a valid date-time' });
      else if (value.getTime() > receivedAt.getTime() + LIMITS.futureSkewMs) {
        ctx.addIssue({ code: 'custom', message: 'must not be more than 1 hour in the future' });
      }
    })
    .transform((value) => value ?? receivedAt);
}

function metricBase(receivedAt: Date) {
  return {
    metricName: name,
    metricType: z.enum(METRIC_TYPES, { message: `must be one of ${METRIC_TYPES.join(', ')}` }),
    value: metricValue,
    unit: optionalText(LIMITS.unitMaxLength),
    tags,
    timestamp: timestampField(receivedAt),
  };
}

function schemas(receivedAt: Date) {
  const base = metricBase(receivedAt);
  return {
    activities: z.object({
      userId: requiredId,
      activityType: name,
      description: optionalText(LIMITS.textMaxLength),
      ipAddress: z
        .string()
        // Zone ids (fe80::1%eth0) name an interface of the sender's machine: meaningless here, and unbounded.
        .refine((value) => value.length <= LIMITS.ipAddressMaxLength && !value.includes('%') && isIP(value) !== 0, {
          message: 'must be a valid IPv4 or IPv6 address (without zone id)',
        })
        .nullish()
        .transform((value) => value ?? null),
      userAgent: optionalText(1024),
      referrer: optionalText(2048),
      metadata: jsonField,
      timestamp: timestampField(receivedAt),
    }) satisfies z.ZodType<UserActivityRow, unknown>,
    systemMetrics: z
      .object({ ...base, dimensions: jsonField })
      .transform((row): SystemMetricRow => ({ ...row, host: hostOf(row.tags) })),
    applicationMetrics: z.object({ ...base, appName: name, metadata: jsonField }) satisfies z.ZodType<
      ApplicationMetricRow,
      unknown
    >,
    userMetrics: z.object({
      ...base,
      userId: requiredId,
      sessionId: optionalText(LIMITS.idMaxLength),
    }) satisfies z.ZodType<UserMetricRow, unknown>,
    performanceMetrics: z.object({
      ...base,
      responseTimeMs: finiteNumber
        .refine((value) => value >= 0 && value <= LIMITS.responseTimeMaxMs, {
          message: `must be between 0 and ${LIMITS.responseTimeMaxMs}`,
        })
        .nullish()
        .transform((value) => value ?? null),
      statusCode: z
        .number({ message: 'must be a number' })
        .int({ message: 'must be a whole number' })
        .min(100, { message: 'must be between 100 and 599' })
        .max(599, { message: 'must be between 100 and 599' })
        .nullish()
        .transform((value) => value ?? null),
      dimensions: jsonField,
    }) satisfies z.ZodType<PerformanceMetricRow, unknown>,
  };
}

function hostOf(tagValues: JsonObject): string | null {
  const host = tagValues.host;
  if (host === undefined || host === null) return null;
  return String(host).slice(0, 255);
}

export interface InputIssue {
  /** Where the problem is, as the caller wrote it: `input[3].metricName`, `input.systemMetrics[0].tags`. */
  path: string;
  /** Index of the item within its list, when the input is a list. */
  index: number | null;
  field: string;
  message: string;
}

export class InputValidationError extends Error {
  constructor(readonly issues: InputIssue[]) {
    const shown = issues.slice(0, 20).map((issue) => `${issue.path}: ${issue.message}`);
    const more = issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '';
    super(`Invalid input (${issues.length} problem${issues.length === 1 ? '' : 's'}): ${shown.join('; ')}${more}`);
    this.name = 'InputValidationError';
  }
}

export interface ListToValidate<F extends Family> {
  family: F;
  items: readonly unknown[];
  /** How the list is named in the caller's request, e.g. `input` or `input.systemMetrics`. */
  path: string;
  /** False for single-record mutations, whose issues carry no index. */
  indexed: boolean;
}

/**
 * Validates every item of every list and reports every problem, so a caller fixes a bad batch in one round.
 * Throws InputValidationError; nothing is written for a request that has any problem.
 */
export function validateLists(
  lists: ListToValidate<Family>[],
  options: { receivedAt: Date; maxItems: number },
): RowsByFamily {
  const families = schemas(options.receivedAt);
  const rows: RowsByFamily = {
    activities: [],
    systemMetrics: [],
    applicationMetrics: [],
    userMetrics: [],
    performanceMetrics: [],
  };
  const issues: InputIssue[] = [];
  const total = lists.reduce((sum, list) => sum + list.items.length, 0);
  if (total > options.maxItems) {
    throw new InputValidationError([
      {
        path: lists.length === 1 ? (lists[0]?.path ?? 'input') : 'input',
        index: null,
        field: lists.length === 1 ? (lists[0]?.path ?? 'input') : 'input',
        message: `holds ${total} records; at most ${options.maxItems} are accepted per request (INSIGHTS_BATCH_SIZE)`,
      },
    ]);
  }
  for (const list of lists) {
    const schema = families[list.family];
    list.items.forEach((item, index) => {
      const result = schema.safeParse(item);
      if (result.success) {
        (rows[list.family] as unknown[]).push(result.data);
        return;
      }
      for (const issue of result.error.issues) {
        const field = issue.path.map(String).join('.') || '(record)';
        issues.push({
          path: list.indexed ? `${list.path}[${index}].${field}` : `${list.path}.${field}`,
          index: list.indexed ? index : null,
          field,
          message: issue.message,
        });
      }
    });
  }
  if (issues.length > 0) throw new InputValidationError(issues);
  return rows;
}
