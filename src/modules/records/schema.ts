import { z } from 'zod';
import { invalidInput, LIMITS } from '../../core/input.js';
import { FAMILIES, METRIC_KINDS, METRIC_TYPES, type Family } from '../../core/records.js';
import { builder } from '../../schema/builder.js';
import type { Context } from '../../schema/context.js';
import { assertIdCursors, CONNECTION_SIZES, parseRecordId, SHAREABLE, toModel } from '../../schema/helpers.js';
import { COUNT_CAP } from '../analytics/model.js';
import { parseFilter, prismaWhere } from './filters.js';
import { idempotencyClaim } from './idempotency.js';
import { isNullable, REGISTRY, type FamilyDescriptor, type FieldSpec, type GraphQLScalar } from './registry.js';
import { activityMatcher, metricMatcher } from './streams.js';
import { markingFamilies, metricKindOf } from './live.js';

// The GraphQL face of the record families, generated from the registry: one object, input and filter type per
// family, and the same five fields for each (list, by id, record one, record a batch, and its part of ingest).

export const MetricTypeEnum = builder.enumType('MetricType', {
  description: 'How a metric value behaves.',
  values: {
    GAUGE: { description: 'A level at an instant, e.g. cpu_usage in percent: averaged, not summed, over time.' },
    COUNTER: { description: 'A count of events since the previous record, e.g. page_views: summed over time; rate() divides by seconds.' },
    HISTOGRAM: { description: 'One observation of a distribution, e.g. one request duration: summarised by percentiles.' },
    SUMMARY: { description: 'A pre-aggregated value computed by the reporter (a mean or a percentile over its own window).' },
  } satisfies Record<(typeof METRIC_TYPES)[number], { description: string }>,
});

const MetricKindEnum = builder.enumType('MetricKind', {
  description: 'The metric families, for filtering live streams.',
  values: {
    SYSTEM: { description: 'System metrics (SystemMetric): machines.' },
    APPLICATION: { description: 'Application metrics (ApplicationMetric): what applications report.' },
    USER: { description: 'User metrics (UserMetric): measurements about one user.' },
    PERFORMANCE: { description: 'Performance metrics (PerformanceMetric): requests and response times.' },
  } satisfies Record<(typeof METRIC_KINDS)[number], { description: string }>,
});

type ScalarRef = 'String' | 'Float' | 'Int' | 'JSON' | 'DateTime' | typeof MetricTypeEnum;
const typeOf = (type: GraphQLScalar): ScalarRef => (type === 'MetricType' ? MetricTypeEnum : type);

interface Row {
  id: bigint | string;
  createdAt: Date;
  [field: string]: unknown;
}

const ID_DESCRIPTION = 'Unique id of the record (a decimal integer as a string), increasing in the order records were stored.';
const CREATED_AT_DESCRIPTION = 'When the service stored the record (receipt time); may differ from timestamp for late or back-filled data.';

const metricShared = REGISTRY.systemMetrics.fields.filter((field) => field.shared);

/** Field builders of object and interface types alike: what recordFields needs of Pothos' `t`. */
interface FieldMaker {
  id(options: { description: string; resolve: (row: Row) => string }): unknown;
  field(options: { type: unknown; nullable?: boolean; description: string; resolve: (row: Row) => unknown }): unknown;
}

/** GraphQL fields for registry fields, with the record's id and createdAt when `identity` is asked for. */
function recordFields(t: FieldMaker, fields: FieldSpec[], identity: boolean): Record<string, unknown> {
  return {
    ...(identity
      ? {
          id: t.id({ description: ID_DESCRIPTION, resolve: (row) => String(row.id) }),
          createdAt: t.field({ type: 'DateTime', description: CREATED_AT_DESCRIPTION, resolve: (row) => row.createdAt }),
        }
      : {}),
    ...Object.fromEntries(
      fields.map((field) => [
        field.name,
        t.field({
          type: typeOf(field.type),
          nullable: isNullable(field),
          description: field.description,
          // Rows always carry every column; tags stored before they were required read as {}.
          resolve: (row) => row[field.name] ?? (field.type === 'JSON' && !isNullable(field) ? {} : null),
        }),
      ]),
    ),
  };
}

export const MetricInterface = builder.interfaceRef<Row>('Metric').implement({
  description: 'Fields every metric family shares: a named value with a type, unit, tags and time.',
  resolveType: (row) => metricKindOf(row),
  fields: (t) => recordFields(t as unknown as FieldMaker, metricShared, true) as never,
});

export const BatchResult = builder.simpleObject('BatchResult', {
  description: 'Outcome of a batch write: how many records were stored.',
  fields: (t) => ({
    count: t.int({ description: 'How many records this request stored (for a replay: how many the first request stored).' }),
    replayed: t.boolean({ description: 'True when this answers a retry: the records were stored by the first request.' }),
  }),
});

export const IDEMPOTENCY_KEY_ARGUMENT = {
  description:
    'Any unique string of 1-255 characters (a UUID): a retry with the same key within 24 hours stores nothing new and returns the first result; ' +
    'the same key with a different request is refused.',
};

const BATCH_DESCRIPTION = 'Stores a batch of at most INSIGHTS_BATCH_SIZE records (default 1000) in one statement: all or nothing.';

/** The fields of a family's object type: its own, since the Metric interface declares the shared ones. */
function objectFields(descriptor: FamilyDescriptor): FieldSpec[] {
  return descriptor.fields.filter((field) => !field.hidden && !(descriptor.kind !== null && field.shared));
}

interface PrismaDelegate {
  findMany(args: unknown): Promise<unknown[]>;
  findUnique(args: unknown): Promise<unknown>;
  count(args: unknown): Promise<number>;
}
const delegateOf = (ctx: Context, descriptor: FamilyDescriptor) => ctx.db.prisma[descriptor.delegate] as unknown as PrismaDelegate;

const NEWEST_FIRST = [{ timestamp: 'desc' as const }, { id: 'desc' as const }];

// A connection's count, computed once per request and connection field: totalCount and totalCountExact both
// read it (the latter through the connection's own totalCount, which holds the field's arguments).
const counts = new WeakMap<object, Map<string, Promise<{ count: number; exact: boolean }>>>();
const pathKey = (path: { key: string | number; prev: unknown } | undefined): string => {
  const keys: (string | number)[] = [];
  for (let at = path; at; at = at.prev as typeof path) keys.unshift(at.key);
  return keys.join('.');
};
async function countOnce(ctx: Context, path: { key: string | number; prev: unknown }, family: Family, filter: unknown) {
  let byPath = counts.get(ctx);
  if (!byPath) counts.set(ctx, (byPath = new Map()));
  const key = pathKey(path);
  let pending = byPath.get(key);
  if (!pending) {
    pending = ctx.analytics.countRecords(family, parseFilter(filter));
    byPath.set(key, pending);
  }
  return pending;
}


function defineFamily(descriptor: FamilyDescriptor) {
  const model = descriptor.model as 'SystemMetric';
  const own = objectFields(descriptor);
  const object = builder.prismaObject(model, {
    description: descriptor.description,
    interfaces: descriptor.kind === null ? [] : [MetricInterface],
    // Metric families get id, createdAt and the shared fields from the Metric interface.
    fields: (t) => recordFields(t as unknown as FieldMaker, own, descriptor.kind === null) as never,
  });

  const input = builder.inputType(descriptor.graphql.input, {
    description: `One ${descriptor.model} to store. ${descriptor.description}`,
    fields: (t) =>
      Object.fromEntries(
        descriptor.fields
          .filter((field) => !field.derive)
          .map((field) => [
            field.name,
            t.field({
              type: typeOf(field.type) as 'String',
              required: field.required,
              description: field.inputDescription ?? field.description,
            }),
          ]),
      ),
  });

  const filter = builder.inputType(descriptor.graphql.filter, {
    description: `Which ${descriptor.model} records to read: every given condition must hold (an empty filter matches all).`,
    fields: (t) => ({
      from: t.field({ type: 'DateTime', description: 'Only records with timestamp at or after this instant (inclusive); not after `to`.' }),
      to: t.field({ type: 'DateTime', description: 'Only records with timestamp before this instant (exclusive).' }),
      ...Object.fromEntries(
        descriptor.filters.map((spec) => [
          spec.name,
          spec.kind === 'tags'
            ? t.field({ type: 'JSON', description: spec.description })
            : spec.kind === 'oneOf' && spec.name.endsWith('s')
              ? t.stringList({ description: spec.description })
              : spec.kind === 'equals' && spec.type === 'Int'
                ? t.int({ description: spec.description })
                : t.string({ description: spec.description }),
        ]),
      ),
    }),
  });

  builder.queryFields((t) => ({
    [descriptor.graphql.list]: t.prismaConnection(
      {
        type: model,
        cursor: 'id',
        ...CONNECTION_SIZES,
        description: descriptor.graphql.listDescription,
        args: { filter: t.arg({ type: filter, description: 'Which records to list; all when absent.' }) },
        resolve: (query, _root, args, ctx) => {
          assertIdCursors(args);
          return delegateOf(ctx, descriptor).findMany({
            ...query,
            where: prismaWhere(parseFilter(args.filter), descriptor.family),
            orderBy: NEWEST_FIRST,
          }) as never;
        },
        totalCount: async (_connection, args, ctx, info) => (await countOnce(ctx, info.path, descriptor.family, args.filter)).count,
      },
      {
        description: `A page of ${descriptor.graphql.list}, with the total number of records matching the filter.`,
        fields: (t) => ({
          totalCountExact: t.boolean({
            description: `True when totalCount is exact: always when the filter can be counted from the rollups (time range, metric names, rollup tags, app, host, activity types, or a user). Otherwise rows are counted up to INSIGHTS_COUNT_CAP (default ${COUNT_CAP}); past it totalCount is that cap and this is false: there are at least that many.`,
            resolve: async (connection, _args, ctx, info) => {
              await (connection as { totalCount?: () => unknown }).totalCount?.();
              return (await counts.get(ctx)?.get(pathKey(info.path.prev)))?.exact ?? true;
            },
          }),
        }),
      },
      {
        description: `One record of ${descriptor.graphql.list} and its cursor.`,
      },
    ),
    [descriptor.graphql.byId]: t.prismaField({
      type: model,
      nullable: true,
      description: `One ${descriptor.model} by id; null when there is none.`,
      args: { id: t.arg.id({ required: true, description: 'The record id (a decimal integer).' }) },
      resolve: (query, _root, args, ctx) => {
        const id = parseRecordId(String(args.id));
        return id === null ? null : (delegateOf(ctx, descriptor).findUnique({ ...query, where: { id } }) as never);
      },
    }),
  }));

  builder.mutationFields((t) => ({
    [descriptor.graphql.recordOne]: t.prismaField({
      type: model,
      description: `Stores one ${descriptor.noun} and returns it as stored. Live subscribers receive it once it is committed.`,
      args: { input: t.arg({ type: input, required: true, description: `The ${descriptor.noun} to store.` }) },
      resolve: async (_query, _root, args, ctx) => {
        const { stored } = await ctx.ingestor.ingest({
          lists: [{ family: descriptor.family, items: [args.input], path: 'input', indexed: false }],
        });
        return toModel(stored[descriptor.family][0] as { id: string }) as never;
      },
    }),
    [descriptor.graphql.recordMany]: t.field({
      type: BatchResult,
      description: BATCH_DESCRIPTION,
      args: {
        input: t.arg({ type: [input], required: true, description: 'The records to store; problems are reported per item (input[i].field).' }),
        idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT),
      },
      resolve: async (_root, args, ctx) => {
        const { count, replayed } = await ctx.ingestor.ingest({
          lists: [{ family: descriptor.family, items: args.input, path: 'input', indexed: true }],
          idempotency: idempotencyClaim(ctx.principal.keyId, args.idempotencyKey, descriptor.graphql.recordMany, args.input),
        });
        return { count, replayed };
      },
    }),
  }));

  return { input, filter, object };
}

const familyTypes = Object.fromEntries(FAMILIES.map((family) => [family, defineFamily(REGISTRY[family] as FamilyDescriptor)])) as Record<
  Family,
  ReturnType<typeof defineFamily>
>;
const inputTypes = Object.fromEntries(FAMILIES.map((family) => [family, familyTypes[family].input])) as Record<Family, ReturnType<typeof defineFamily>['input']>;

/** Each family's GraphQL object type, for other modules' fields that return records. */
export const RecordObjects = Object.fromEntries(FAMILIES.map((family) => [family, familyTypes[family].object])) as Record<
  Family,
  ReturnType<typeof defineFamily>['object']
>;

/** Each family's filter input type, for other modules' fields that read records (stats, trends). */
export const FilterInputs = Object.fromEntries(FAMILIES.map((family) => [family, familyTypes[family].filter])) as Record<
  Family,
  ReturnType<typeof defineFamily>['filter']
>;

const IngestInput = builder.inputType('IngestInput', {
  description: 'Records of any families, stored together in one transaction.',
  fields: (t) =>
    Object.fromEntries(
      FAMILIES.map((family) => [
        family,
        t.field({ type: [inputTypes[family]], description: `${REGISTRY[family].model} records to store (input.${family}[i]).` }),
      ]),
    ),
});

builder.mutationFields((t) => ({
  ingest: t.field({
    type: BatchResult,
    description: 'Stores records of several families in one transaction: all or nothing. At most INSIGHTS_BATCH_SIZE records in all.',
    args: {
      input: t.arg({ type: IngestInput, required: true, description: 'The records, by family.' }),
      idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT),
    },
    resolve: async (_root, args, ctx) => {
      const input = args.input as Partial<Record<Family, readonly unknown[] | null>>;
      const lists = FAMILIES.filter((family) => input[family]).map((family) => ({
        family,
        items: input[family] ?? [],
        path: `input.${family}`,
        indexed: true,
      }));
      const { count, replayed } = await ctx.ingestor.ingest({
        lists,
        idempotency: idempotencyClaim(ctx.principal.keyId, args.idempotencyKey, 'ingest', args.input),
      });
      return { count, replayed };
    },
  }),
}));

// ---- live streams ------------------------------------------------------------------------------------------

const MetricStreamFilter = builder.inputType('MetricStreamFilter', {
  description: 'Which metric records a live stream delivers: every given condition must hold (all records when empty).',
  fields: (t) => ({
    kinds: t.field({ type: [MetricKindEnum], description: 'Only these families (all when absent).' }),
    metricNames: t.stringList({ description: 'Only these metric names (exact match); an empty list sets no condition.' }),
    appName: t.string({ description: 'Only application metrics of this app (exact match); other families never match it.' }),
    userId: t.string({ description: 'Only user metrics of this user (exact match); other families never match it.' }),
    tags: t.field({
      type: 'JSON',
      description: 'Only records whose tags contain all of these key/value pairs (a subset match; values compare by type and value).',
    }),
  }),
});

const ActivityStreamFilter = builder.inputType('ActivityStreamFilter', {
  description: 'Which activities a live stream delivers (all when empty).',
  fields: (t) => ({
    userId: t.string({ description: 'Only activities of this user (exact match).' }),
    activityTypes: t.stringList({ description: 'Only activities of these types (exact match); an empty list sets no condition.' }),
  }),
});

const streamTags = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]), {
    message: 'must be a flat object of string, number or boolean values',
  })
  .refine((value) => Object.keys(value).length <= LIMITS.tagCount, { message: `must have at most ${LIMITS.tagCount} entries` })
  .nullish();

function parseStreamTags(tags: unknown) {
  const parsed = streamTags.safeParse(tags);
  if (!parsed.success) throw invalidInput('filter.tags', parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}

builder.subscriptionFields((t) => ({
  metricRecorded: t.field({
    type: MetricInterface,
    ...SHAREABLE,
    description:
      'Every metric record stored from now on (by any mutation, batch or job, on any instance) that matches the filter, once, ' +
      'in write order per writer.',
    args: { filter: t.arg({ type: MetricStreamFilter, description: 'Which records to deliver; all when absent.' }) },
    subscribe: (_root, args, ctx) =>
      ctx.live.stream('metrics.recorded', markingFamilies(metricMatcher({ ...args.filter, tags: parseStreamTags(args.filter?.tags) }))) as AsyncIterable<Row>,
    resolve: (record) => record,
  }),
  activityRecorded: t.field({
    type: RecordObjects.activities,
    ...SHAREABLE,
    description: 'Every user activity stored from now on that matches the filter.',
    args: { filter: t.arg({ type: ActivityStreamFilter, description: 'Which activities to deliver; all when absent.' }) },
    subscribe: (_root, args, ctx) => ctx.live.stream('activities.recorded', activityMatcher(args.filter ?? {})),
    resolve: (record) => toModel(record as { id: string }) as never,
  }),
}));
