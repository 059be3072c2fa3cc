import { isIP } from 'node:net';
import { LIMITS, NAME_PATTERN, jsonLargerThan, jsonProblem, textProblem } from '../../core/input.js';
import type { JsonObject } from '../../core/json.js';
import { FAMILIES, METRIC_TYPES, type Family, type MetricKind, type RowOf } from '../../core/records.js';

// The one description of the five record families. Everything family-shaped is derived from it: the table
// and its columns (bulk writer, raw reads), validation rules, filters (SQL and Prisma), live topics and stream
// matching, and the GraphQL types and fields (object, input, filter, connection, by id, record one, record a
// batch). Adding a family means one entry here, its Prisma model and its migration.
//
// Identifiers here (tables, columns) are constants of this file, never caller input, so they may be spliced
// into SQL text.

/** Checks one input value: the problem with it, or null. */
export type Check = (value: unknown) => string | null;

export type PgType = 'text' | 'float8' | 'int4' | 'jsonb' | 'timestamptz' | 'metric_type';
export type GraphQLScalar = 'String' | 'Float' | 'Int' | 'JSON' | 'DateTime' | 'MetricType';

export interface FieldSpec {
  /** API and Prisma field name; raw reads alias columns to it. */
  name: string;
  column: string;
  pgType: PgType;
  /** GraphQL type of the field on the object and the input. */
  type: GraphQLScalar;
  /** What it means, for the object field (and the input field unless `inputDescription` says otherwise). */
  description: string;
  inputDescription?: string;
  /** Input: whether a record must carry it. On the object, a field is nullable unless required or given an `absent` value. */
  required: boolean;
  /** Validation of a present value (the timestamp's needs the receipt time: see validation.ts); absent for derived fields. */
  check?: Check;
  /** Turns an accepted value into the stored one. */
  normalize?: (value: never) => unknown;
  /** Stored when the field is absent or null (default null). */
  absent?: (receivedAt: Date) => unknown;
  /** Derived from the validated row instead of read from the input (not an input field). */
  derive?: (row: Record<string, unknown>) => unknown;
  /** Not exposed on the GraphQL object (a copy kept for indexing). */
  hidden?: boolean;
  /** On the Metric interface: declared once there, not per family. */
  shared?: boolean;
}

/** How a filter input field matches. Every filter also has the half-open time range `from`/`to`. */
export type FilterSpec =
  | { name: string; kind: 'equals'; field: string; type: 'String' | 'Int'; description: string }
  | { name: string; kind: 'oneOf'; field: string; description: string }
  | { name: string; kind: 'tags'; field: string; description: string };

export interface TopicSpec {
  name: 'metrics.recorded' | 'activities.recorded';
}

export interface FamilyDescriptor<F extends Family = Family> {
  family: F;
  /** For metric families, how live streams and the metric interface name the family. */
  kind: MetricKind | null;
  table: string;
  /** Prisma model (and GraphQL object type) name; its Prisma delegate is the camel-cased name. */
  model: 'UserActivity' | 'SystemMetric' | 'ApplicationMetric' | 'UserMetric' | 'PerformanceMetric';
  delegate: 'userActivity' | 'systemMetric' | 'applicationMetric' | 'userMetric' | 'performanceMetric';
  description: string;
  graphql: {
    list: string;
    listDescription: string;
    byId: string;
    recordOne: string;
    recordMany: string;
    input: string;
    filter: string;
  };
  fields: FieldSpec[];
  filters: FilterSpec[];
  topic: TopicSpec['name'];
  /** How a single-record mutation's record is named in descriptions ("metric", "activity"). */
  noun: string;
}

// ---- checks ------------------------------------------------------------------------------------------------

export function stringProblem(value: unknown, max: number, min = 0): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length < min) return 'must not be empty';
  if (value.length > max) return `must be at most ${max} characters`;
  return textProblem(value);
}

export function nameProblem(value: unknown): string | null {
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

/** A JSON field as stored: serialised once, by the bulk writer (validation only bounds its size, see jsonLargerThan). */
export const serializeJson = (value: unknown): string => JSON.stringify(value) ?? 'null';

function jsonFieldProblem(value: unknown): string | null {
  if (jsonLargerThan(value, LIMITS.jsonMaxBytes)) return `must be at most ${LIMITS.jsonMaxBytes} bytes as JSON`;
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
  return jsonLargerThan(value, LIMITS.jsonMaxBytes) ? `must be at most ${LIMITS.jsonMaxBytes} bytes as JSON` : null;
}

/** A timestamp at most an hour ahead of receipt (clock skew); the check needs the receipt time. */
export function timestampProblem(value: unknown, receivedAt: Date): string | null {
  const time = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!(value instanceof Date) && typeof value !== 'string') return 'must be a date-time';
  if (Number.isNaN(time)) return 'must be a valid date-time';
  return time > receivedAt.getTime() + LIMITS.futureSkewMs ? 'must not be more than 1 hour in the future' : null;
}

function ipAddressProblem(value: unknown): string | null {
  // Zone ids (fe80::1%eth0) name an interface of the sender's machine: meaningless here, and unbounded.
  return typeof value === 'string' && value.length <= LIMITS.ipAddressMaxLength && !value.includes('%') && isIP(value) !== 0
    ? null
    : 'must be a valid IPv4 or IPv6 address (without zone id)';
}

const metricTypes: readonly unknown[] = METRIC_TYPES;

// ---- fields ------------------------------------------------------------------------------------------------

const text = (name: string, column: string, max: number, description: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  column,
  pgType: 'text',
  type: 'String',
  description,
  required: false,
  check: (value) => stringProblem(value, max),
  ...extra,
});

const json = (name: string, column: string, description: string): FieldSpec => ({
  name,
  column,
  pgType: 'jsonb',
  type: 'JSON',
  description,
  required: false,
  check: jsonFieldProblem,
});


const userIdField: FieldSpec = {
  name: 'userId',
  column: 'user_id',
  pgType: 'text',
  type: 'String',
  description: 'Opaque id of the platform user (users live in another service), 1-255 characters.',
  required: true,
  check: (value) => stringProblem(value, LIMITS.idMaxLength, 1),
};

const timestampField: FieldSpec = {
  name: 'timestamp',
  column: 'timestamp',
  pgType: 'timestamptz',
  type: 'DateTime',
  description: 'When it happened, as given by the caller (or when the service received it, if not given). Time ranges and buckets use it.',
  inputDescription: 'When it happened (at most 1 hour in the future); defaults to the time of receipt.',
  required: false,
  normalize: (value: Date | string) => (value instanceof Date ? value : new Date(value)),
  absent: (receivedAt) => receivedAt,
  shared: true,
};

const metricFields: FieldSpec[] = [
  {
    name: 'metricName',
    column: 'metric_name',
    pgType: 'text',
    type: 'String',
    description: 'What is measured, e.g. cpu_usage or http_request: 1-100 characters of letters, digits and _ . : / -.',
    required: true,
    check: nameProblem,
    shared: true,
  },
  {
    name: 'metricType',
    column: 'metric_type',
    pgType: 'metric_type',
    type: 'MetricType',
    description: 'How the value behaves: a level (GAUGE), a count (COUNTER), or one observation of a distribution.',
    required: true,
    check: (value) => (metricTypes.includes(value) ? null : `must be one of ${METRIC_TYPES.join(', ')}`),
    shared: true,
  },
  {
    name: 'value',
    column: 'value',
    pgType: 'float8',
    type: 'Float',
    description: `The measured value, in \`unit\`; finite, between -${LIMITS.valueMaxAbs} and ${LIMITS.valueMaxAbs}.`,
    required: true,
    check: (value) =>
      numberProblem(value, -LIMITS.valueMaxAbs, LIMITS.valueMaxAbs, `must be between -${LIMITS.valueMaxAbs} and ${LIMITS.valueMaxAbs}`),
    shared: true,
  },
  text('unit', 'unit', LIMITS.unitMaxLength, `Unit of value, e.g. percent, ms, bytes (at most ${LIMITS.unitMaxLength} characters); null when not given.`, {
    shared: true,
  }),
  {
    name: 'tags',
    column: 'tags',
    pgType: 'jsonb',
    type: 'JSON',
    description:
      'Flat object of string, number or boolean values that label the record, e.g. { "host": "web-1", "endpoint": "/api/orders" }; {} when none.',
    inputDescription: `Flat object of at most ${LIMITS.tagCount} string, number or boolean values (keys 1-${LIMITS.tagKeyMaxLength} characters); defaults to {}.`,
    required: false,
    check: tagsProblem,
    absent: () => ({}),
    shared: true,
  },
  timestampField,
];

function hostOf(row: Record<string, unknown>): string | null {
  const host = (row.tags as JsonObject).host;
  if (host === undefined || host === null) return null;
  return String(host).slice(0, 255);
}

// ---- filters -----------------------------------------------------------------------------------------------

const metricNameFilters: FilterSpec[] = [
  {
    name: 'metricName',
    kind: 'oneOf',
    field: 'metricName',
    description: 'Only records of this metric name (exact match). Given with metricNames, records of any of the names match.',
  },
  {
    name: 'metricNames',
    kind: 'oneOf',
    field: 'metricName',
    description: 'Only records of one of these metric names (exact match, at most 100); an empty list sets no condition.',
  },
  {
    name: 'tags',
    kind: 'tags',
    field: 'tags',
    description: 'Only records whose tags contain all of these key/value pairs (a subset match; values compare by type and value).',
  },
];

const NEWEST_FIRST = 'newest first (by timestamp, then id)';

export const REGISTRY: { [F in Family]: FamilyDescriptor<F> } = {
  activities: {
    family: 'activities',
    kind: null,
    table: 'user_activities',
    model: 'UserActivity',
    delegate: 'userActivity',
    noun: 'activity',
    description: 'Something a user of the platform did (a login, a page update), as reported by the service that saw it.',
    graphql: {
      list: 'userActivities',
      listDescription: `User activities, ${NEWEST_FIRST}.`,
      byId: 'userActivity',
      recordOne: 'recordUserActivity',
      recordMany: 'recordUserActivities',
      input: 'UserActivityInput',
      filter: 'UserActivityFilter',
    },
    fields: [
      userIdField,
      {
        name: 'activityType',
        column: 'activity_type',
        pgType: 'text',
        type: 'String',
        description: 'What the user did, e.g. login, PROJECT_CREATE, PAGE_UPDATE: 1-100 characters of letters, digits and _ . : / -.',
        required: true,
        check: nameProblem,
      },
      text('description', 'description', LIMITS.textMaxLength, `Free text about the activity (at most ${LIMITS.textMaxLength} characters); null when not given.`),
      {
        ...text('ipAddress', 'ip_address', LIMITS.ipAddressMaxLength, 'IPv4 or IPv6 address the user acted from (no zone id); null when not given.'),
        check: ipAddressProblem,
      },
      text('userAgent', 'user_agent', 1024, "The user's browser or client (User-Agent), at most 1024 characters; null when not given."),
      text('referrer', 'referrer', 2048, 'The page the user came from, at most 2048 characters; null when not given.'),
      json('metadata', 'metadata', `Any JSON about the activity (at most ${LIMITS.jsonMaxBytes / 1024} KiB), e.g. { "time_spent_seconds": 42 }; null when not given.`),
      timestampField,
    ],
    filters: [
      { name: 'userId', kind: 'equals', field: 'userId', type: 'String', description: 'Only activities of this user (exact match).' },
      {
        name: 'activityType',
        kind: 'oneOf',
        field: 'activityType',
        description: 'Only activities of this type (exact match, case-sensitive). Given with activityTypes, activities of any of the types match.',
      },
      {
        name: 'activityTypes',
        kind: 'oneOf',
        field: 'activityType',
        description: 'Only activities of one of these types (exact match, at most 100); an empty list sets no condition.',
      },
    ],
    topic: 'activities.recorded',
  },
  systemMetrics: {
    family: 'systemMetrics',
    kind: 'SYSTEM',
    table: 'system_metrics',
    model: 'SystemMetric',
    delegate: 'systemMetric',
    noun: 'metric',
    description: 'A measurement of a machine: CPU, memory, disk, network. tags.host names the machine.',
    graphql: {
      list: 'systemMetrics',
      listDescription: `System metrics, ${NEWEST_FIRST}.`,
      byId: 'systemMetric',
      recordOne: 'recordSystemMetric',
      recordMany: 'recordSystemMetrics',
      input: 'SystemMetricInput',
      filter: 'SystemMetricFilter',
    },
    fields: [
      ...metricFields,
      {
        name: 'host',
        column: 'host',
        pgType: 'text',
        type: 'String',
        description: 'Copy of tags.host, kept as a column so "latest value per host" is an index walk.',
        required: false,
        derive: hostOf,
        hidden: true,
      },
      json('dimensions', 'dimensions', `Details of the measurement as JSON (at most ${LIMITS.jsonMaxBytes / 1024} KiB), e.g. { "cores": 8 }; null when not given.`),
    ],
    filters: [
      ...metricNameFilters,
      { name: 'host', kind: 'equals', field: 'host', type: 'String', description: 'Only records of this host (exact match): shorthand for tags: { host }.' },
    ],
    topic: 'metrics.recorded',
  },
  applicationMetrics: {
    family: 'applicationMetrics',
    kind: 'APPLICATION',
    table: 'application_metrics',
    model: 'ApplicationMetric',
    delegate: 'applicationMetric',
    noun: 'metric',
    description: 'A measurement reported by an application: page views, error rate, queue length.',
    graphql: {
      list: 'applicationMetrics',
      listDescription: `Application metrics, ${NEWEST_FIRST}.`,
      byId: 'applicationMetric',
      recordOne: 'recordApplicationMetric',
      recordMany: 'recordApplicationMetrics',
      input: 'ApplicationMetricInput',
      filter: 'ApplicationMetricFilter',
    },
    fields: [
      ...metricFields,
      {
        name: 'appName',
        column: 'app_name',
        pgType: 'text',
        type: 'String',
        description: 'The application that reported it: 1-100 characters of letters, digits and _ . : / -.',
        required: true,
        check: nameProblem,
      },
      json('metadata', 'metadata', `Any JSON about the measurement (at most ${LIMITS.jsonMaxBytes / 1024} KiB); null when not given.`),
    ],
    filters: [
      ...metricNameFilters,
      { name: 'appName', kind: 'equals', field: 'appName', type: 'String', description: 'Only metrics of this application (exact match).' },
    ],
    topic: 'metrics.recorded',
  },
  userMetrics: {
    family: 'userMetrics',
    kind: 'USER',
    table: 'user_metrics',
    model: 'UserMetric',
    delegate: 'userMetric',
    noun: 'metric',
    description: 'A measurement about one user: session length, clicks, items viewed.',
    graphql: {
      list: 'userMetrics',
      listDescription: `User metrics, ${NEWEST_FIRST}.`,
      byId: 'userMetric',
      recordOne: 'recordUserMetric',
      recordMany: 'recordUserMetrics',
      input: 'UserMetricInput',
      filter: 'UserMetricFilter',
    },
    fields: [
      ...metricFields,
      userIdField,
      text('sessionId', 'session_id', LIMITS.idMaxLength, `The user's session, at most ${LIMITS.idMaxLength} characters; null when not given.`),
    ],
    filters: [
      ...metricNameFilters,
      { name: 'userId', kind: 'equals', field: 'userId', type: 'String', description: 'Only metrics of this user (exact match).' },
      { name: 'sessionId', kind: 'equals', field: 'sessionId', type: 'String', description: 'Only metrics of this session (exact match).' },
    ],
    topic: 'metrics.recorded',
  },
  performanceMetrics: {
    family: 'performanceMetrics',
    kind: 'PERFORMANCE',
    table: 'performance_metrics',
    model: 'PerformanceMetric',
    delegate: 'performanceMetric',
    noun: 'metric',
    description: 'A measurement of how fast and how well requests are served: one record per request, or per sample.',
    graphql: {
      list: 'performanceMetrics',
      listDescription: `Performance metrics, ${NEWEST_FIRST}.`,
      byId: 'performanceMetric',
      recordOne: 'recordPerformanceMetric',
      recordMany: 'recordPerformanceMetrics',
      input: 'PerformanceMetricInput',
      filter: 'PerformanceMetricFilter',
    },
    fields: [
      ...metricFields,
      {
        name: 'responseTimeMs',
        column: 'response_time_ms',
        pgType: 'float8',
        type: 'Float',
        description: `How long the request took, in milliseconds (0 to ${LIMITS.responseTimeMaxMs}); null when not measured.`,
        required: false,
        check: (value) => numberProblem(value, 0, LIMITS.responseTimeMaxMs, `must be between 0 and ${LIMITS.responseTimeMaxMs}`),
      },
      {
        name: 'statusCode',
        column: 'status_code',
        pgType: 'int4',
        type: 'Int',
        description: 'HTTP status of the response, 100-599; 500 and above count as errors. Null when not given.',
        required: false,
        check: (value) => {
          if (typeof value !== 'number') return 'must be a number';
          if (!Number.isInteger(value)) return 'must be a whole number';
          return value < 100 || value > 599 ? 'must be between 100 and 599' : null;
        },
      },
      json('dimensions', 'dimensions', `Details of the measurement as JSON (at most ${LIMITS.jsonMaxBytes / 1024} KiB); null when not given.`),
    ],
    filters: [
      ...metricNameFilters,
      { name: 'statusCode', kind: 'equals', field: 'statusCode', type: 'Int', description: 'Only records with this HTTP status, e.g. 503 (exact match).' },
    ],
    topic: 'metrics.recorded',
  },
};

export const FAMILY_LIST: FamilyDescriptor[] = FAMILIES.map((family) => REGISTRY[family] as FamilyDescriptor);

export const METRIC_FAMILY_OF_KIND: Record<MetricKind, Exclude<Family, 'activities'>> = {
  SYSTEM: 'systemMetrics',
  APPLICATION: 'applicationMetrics',
  USER: 'userMetrics',
  PERFORMANCE: 'performanceMetrics',
};

/** The family of a GraphQL object type name (for the Metric interface's resolveType). */
export function descriptorOfModel(model: string): FamilyDescriptor | undefined {
  return FAMILY_LIST.find((descriptor) => descriptor.model === model);
}

/** The column of a field of a family (throws for a field the family does not have: a programming error). */
export function columnOf(family: Family, field: string): string {
  const spec = REGISTRY[family].fields.find((candidate) => candidate.name === field);
  if (!spec) throw new Error(`${family} has no field ${field}`);
  return spec.column;
}

/** Values of a row in the order of its family's stored fields, as the bulk writer sends them. */
export function storedValue(field: FieldSpec, row: RowOf<Family>): unknown {
  const value = (row as unknown as Record<string, unknown>)[field.name];
  if (field.pgType === 'jsonb') return value === null || value === undefined ? null : serializeJson(value);
  if (field.pgType === 'timestamptz') return (value as Date).toISOString();
  return value;
}

/** Whether a field can be null on the GraphQL object. */
export const isNullable = (field: FieldSpec) => !field.required && field.absent === undefined;
