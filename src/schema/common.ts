import { builder } from './builder.js';
import { METRIC_TYPES } from '../ingest/families.js';
import { InputValidationError } from '../ingest/validation.js';

export const MetricTypeEnum = builder.enumType('MetricType', {
  description: 'How a metric value behaves: an instantaneous level, a running count, or a distribution.',
  values: METRIC_TYPES,
});

export interface MetricShape {
  id: bigint | string;
  metricName: string;
  metricType: (typeof METRIC_TYPES)[number];
  value: number;
  unit: string | null;
  tags: unknown;
  timestamp: Date;
  createdAt: Date;
}

/** Every row has all of its table's columns, so a family-specific column tells the concrete type apart. */
function metricTypeName(value: MetricShape): string {
  if ('appName' in value) return 'ApplicationMetric';
  if ('userId' in value) return 'UserMetric';
  if ('statusCode' in value) return 'PerformanceMetric';
  return 'SystemMetric';
}

export const MetricInterface = builder.interfaceRef<MetricShape>('Metric').implement({
  description: 'Fields every metric family shares.',
  resolveType: (value) => metricTypeName(value),
  fields: (t) => ({
    id: t.id({ resolve: (metric) => String(metric.id) }),
    metricName: t.exposeString('metricName'),
    metricType: t.field({ type: MetricTypeEnum, resolve: (metric) => metric.metricType }),
    value: t.exposeFloat('value'),
    unit: t.exposeString('unit', { nullable: true }),
    tags: t.field({ type: 'JSON', resolve: (metric) => metric.tags ?? {} }),
    timestamp: t.field({ type: 'DateTime', description: 'When it happened (given by the caller, or receipt).', resolve: (m) => m.timestamp }),
    createdAt: t.field({ type: 'DateTime', description: 'When the service stored it.', resolve: (m) => m.createdAt }),
  }),
});

export const BatchResult = builder.simpleObject('BatchResult', {
  description: 'Outcome of a batch write: how many records were stored.',
  fields: (t) => ({
    count: t.int(),
    replayed: t.boolean({ description: 'True when this answers a retry: the records were stored by the first request.' }),
  }),
});

export const IDEMPOTENCY_KEY_ARGUMENT = {
  description:
    'Any unique string (a UUID): a retry with the same key within 24 hours stores nothing new and returns the first result; ' +
    'the same key with a different request is refused.',
};

export const KeyCount = builder.simpleObject('KeyCount', {
  fields: (t) => ({ key: t.string(), count: t.int() }),
});

/** Record ids are bigint identities shown as decimal strings; anything else is a caller error. */
export function parseRecordId(id: string, argument = 'id'): bigint | null {
  if (!/^\d{1,19}$/.test(id)) {
    throw new InputValidationError([
      { path: argument, index: null, field: argument, message: 'must be a record id (a positive whole number)' },
    ]);
  }
  const value = BigInt(id);
  return value > INT8_MAX ? null : value;
}

const INT8_MAX = 9_223_372_036_854_775_807n;

/**
 * Checks `after`/`before` before they reach Prisma. Pothos decodes any well-formed cursor, but ours are always
 * a record id (`GPC:I:<digits>`); a cursor of another type would otherwise fail deep inside the query.
 */
export function assertRecordCursors(args: { after?: string | null; before?: string | null }): void {
  for (const argument of ['after', 'before'] as const) {
    const cursor = args[argument];
    if (cursor === null || cursor === undefined) continue;
    const decoded = Buffer.from(cursor, 'base64').toString('utf8');
    const match = /^GPC:I:(\d{1,19})$/.exec(decoded);
    if (!match || BigInt(match[1] as string) > INT8_MAX) {
      throw new InputValidationError([
        { path: argument, index: null, field: argument, message: 'must be a cursor returned by this connection' },
      ]);
    }
  }
}

/** Stored rows come back from raw SQL with text ids; the Prisma object types expect the model's bigint. */
export function toModel<Row extends { id: string }>(row: Row): Omit<Row, 'id'> & { id: bigint } {
  return { ...row, id: BigInt(row.id) };
}

export const NEWEST_FIRST = [{ timestamp: 'desc' as const }, { id: 'desc' as const }];

export const CONNECTION_SIZES = { defaultSize: 50, maxSize: 1000 } as const;
