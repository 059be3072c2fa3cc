import { isIP } from 'node:net';
import { z } from 'zod';
import type { Family, RowsByFamily } from './families.js';
import { METRIC_TYPES } from './families.js';
import type { JsonObject } from './json.js';

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
    for (const key in value) {
      const problem = textProblem(key) ?? jsonProblem((value as Record<string, unknown>)[key]);
      if (problem) return problem;
    }
  }
  return null;
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

// Records are checked by hand-written rules rather than zod: a batch of 1,000 records is checked on every
// ingest request, and this runs several times faster, allocating next to nothing for valid input.

/** Returns the problem with a value, or null; `normalize` turns an accepted value into the stored one. */
interface FieldRule {
  field: string;
  required: boolean;
  check: (value: unknown) => string | null;
  normalize?: (value: never) => unknown;
  /** Value stored when the field is absent or null. */
  absent?: () => unknown;
}

function stringProblem(value: unknown, max: number, min = 0): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length < min) return 'must not be empty';
  if (value.length > max) return `must be at most ${max} characters`;
  return textProblem(value);
}

function nameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (value.length > LIMITS.nameMaxLength) return `must be at most ${LIMITS.nameMaxLength} characters`;
  return NAME_PATTERN.test(value) ? null : 'may only contain letters, digits and _ . : / -';
}

function numberProblem(value: unknown, min: number, max: number, range: string): string | null {
  if (typeof value !== 'number') return 'must be a number';
  if (!Number.isFinite(value)) return 'must be finite';
  return value < min || value > max ? range : null;
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(serializeJson(value), 'utf8');
}

// Each JSON field is serialised once: for its size check here, then reused by the bulk writer.
const serialised = new WeakMap<object, string>();
export function serializeJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  let json = serialised.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    serialised.set(value, json);
  }
  return json;
}

function jsonFieldProblem(value: unknown): string | null {
  if (jsonBytes(value) > LIMITS.jsonMaxBytes) return `must be at most ${LIMITS.jsonMaxBytes} bytes as JSON`;
  return jsonProblem(value);
}

function tagsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of string, number or boolean values';
  }
  let count = 0;
  for (const key in value) {
    count += 1;
    if (count > LIMITS.tagCount) return `must have at most ${LIMITS.tagCount} entries`;
    if (key.length === 0 || key.length > LIMITS.tagKeyMaxLength || textProblem(key) !== null) {
      return `key "${key.slice(0, 40)}" must be 1-${LIMITS.tagKeyMaxLength} characters`;
    }
    const inner = (value as Record<string, unknown>)[key];
    const kind = typeof inner;
    if (kind !== 'string' && kind !== 'number' && kind !== 'boolean') {
      return `value of "${key}" must be a string, number or boolean (tags are flat)`;
    }
    const problem = jsonProblem(inner);
    if (problem) return `value of "${key}" ${problem}`;
  }
  return jsonBytes(value) > LIMITS.jsonMaxBytes ? `must be at most ${LIMITS.jsonMaxBytes} bytes as JSON` : null;
}

function timestampRule(receivedAt: Date): FieldRule {
  const latest = receivedAt.getTime() + LIMITS.futureSkewMs;
  return {
    field: 'timestamp',
    required: false,
    check: (value) => {
      const time = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (!(value instanceof Date) && typeof value !== 'string') return 'must be a date-time';
      if (Number.isNaN(time)) return 'must be a valid date-time';
      return time > latest ? 'must not be more than 1 hour in the future' : null;
    },
    normalize: (value: Date | string) => (value instanceof Date ? value : new Date(value)),
    absent: () => receivedAt,
  };
}

const nullable = () => null;
const required = (field: string, check: FieldRule['check']): FieldRule => ({ field, required: true, check });
const optional = (field: string, check: FieldRule['check']): FieldRule => ({ field, required: false, check, absent: nullable });
const optionalText = (field: string, max: number) => optional(field, (value) => stringProblem(value, max));
const jsonRule = (field: string) => optional(field, jsonFieldProblem);

function metricRules(receivedAt: Date): FieldRule[] {
  const metricTypes: readonly unknown[] = METRIC_TYPES;
  return [
    required('metricName', nameProblem),
    required('metricType', (value) => (metricTypes.includes(value) ? null : `must be one of ${METRIC_TYPES.join(', ')}`)),
    required('value', (value) =>
      numberProblem(value, -LIMITS.valueMaxAbs, LIMITS.valueMaxAbs, `must be between -${LIMITS.valueMaxAbs} and ${LIMITS.valueMaxAbs}`),
    ),
    optionalText('unit', LIMITS.unitMaxLength),
    { field: 'tags', required: false, check: tagsProblem, absent: () => ({}) },
    timestampRule(receivedAt),
  ];
}

function familyRules(receivedAt: Date): Record<Family, FieldRule[]> {
  const metric = metricRules(receivedAt);
  const userId = required('userId', (value) => stringProblem(value, LIMITS.idMaxLength, 1));
  return {
    activities: [
      userId,
      required('activityType', nameProblem),
      optionalText('description', LIMITS.textMaxLength),
      optional('ipAddress', (value) =>
        // Zone ids (fe80::1%eth0) name an interface of the sender's machine: meaningless here, and unbounded.
        typeof value === 'string' && value.length <= LIMITS.ipAddressMaxLength && !value.includes('%') && isIP(value) !== 0
          ? null
          : 'must be a valid IPv4 or IPv6 address (without zone id)',
      ),
      optionalText('userAgent', 1024),
      optionalText('referrer', 2048),
      jsonRule('metadata'),
      timestampRule(receivedAt),
    ],
    systemMetrics: [...metric, jsonRule('dimensions')],
    applicationMetrics: [...metric, required('appName', nameProblem), jsonRule('metadata')],
    userMetrics: [...metric, userId, optionalText('sessionId', LIMITS.idMaxLength)],
    performanceMetrics: [
      ...metric,
      optional('responseTimeMs', (value) =>
        numberProblem(value, 0, LIMITS.responseTimeMaxMs, `must be between 0 and ${LIMITS.responseTimeMaxMs}`),
      ),
      optional('statusCode', (value) => {
        if (typeof value !== 'number') return 'must be a number';
        if (!Number.isInteger(value)) return 'must be a whole number';
        return value < 100 || value > 599 ? 'must be between 100 and 599' : null;
      }),
      jsonRule('dimensions'),
    ],
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

/** Turns zod issues (for small admin and filter inputs) into InputValidationError issues under `prefix`. */
export function issuesFromZod(issues: readonly z.core.$ZodIssue[], prefix: string): InputIssue[] {
  return issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    return { path: field ? `${prefix}.${field}` : prefix, index: null, field, message: issue.message };
  });
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
  const families = familyRules(options.receivedAt);
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
    const rules = families[list.family];
    const out = rows[list.family] as unknown[];
    list.items.forEach((item, index) => {
      const report = (field: string, message: string) =>
        issues.push({
          path: list.indexed ? `${list.path}[${index}].${field}` : `${list.path}.${field}`,
          index: list.indexed ? index : null,
          field,
          message,
        });
      if (typeof item !== 'object' || item === null) {
        report('(record)', 'must be an object');
        return;
      }
      const record = item as Record<string, unknown>;
      const row: Record<string, unknown> = {};
      let valid = true;
      for (const rule of rules) {
        const value = record[rule.field];
        if (value === undefined || value === null) {
          if (rule.required) {
            report(rule.field, 'is required');
            valid = false;
          } else row[rule.field] = rule.absent ? rule.absent() : null;
          continue;
        }
        const problem = rule.check(value);
        if (problem) {
          report(rule.field, problem);
          valid = false;
        } else row[rule.field] = rule.normalize ? rule.normalize(value as never) : value;
      }
      if (!valid) return;
      if (list.family === 'systemMetrics') row.host = hostOf(row.tags as JsonObject);
      out.push(row);
    });
  }
  if (issues.length > 0) throw new InputValidationError(issues);
  return rows;
}
