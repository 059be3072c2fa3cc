import { z } from 'zod';
import { Prisma } from '../generated/prisma/client.js';
import { InputValidationError, issuesFromZod, LIMITS, text } from '../ingest/validation.js';
import type { Sql } from '../db/sql.js';

/** One filter shape for every family; each family honours the keys it has (see schema/filters.ts). */
export interface RecordFilter {
  from?: Date | null;
  to?: Date | null;
  metricName?: string | null;
  metricNames?: string[] | null;
  tags?: Record<string, string | number | boolean> | null;
  userId?: string | null;
  sessionId?: string | null;
  appName?: string | null;
  host?: string | null;
  statusCode?: number | null;
  activityType?: string | null;
  activityTypes?: string[] | null;
}

// Filter strings reach SQL as parameters, so they obey the same text rules as stored strings.
const tagValue = z.union([text(LIMITS.jsonMaxBytes), z.number().refine(Number.isFinite), z.boolean()], {
  message: 'must be a flat object of string, number or boolean values',
});
const filterSchema = z.object({
  from: z.date().nullish(),
  to: z.date().nullish(),
  metricName: text(LIMITS.nameMaxLength).nullish(),
  metricNames: z.array(text(LIMITS.nameMaxLength)).max(100, { message: 'must list at most 100 names' }).nullish(),
  tags: z
    .record(text(LIMITS.tagKeyMaxLength), tagValue, { message: 'must be a flat object of string, number or boolean values' })
    .refine((value) => Object.keys(value).length <= LIMITS.tagCount, { message: `must have at most ${LIMITS.tagCount} entries` })
    .nullish(),
  userId: text(LIMITS.idMaxLength).nullish(),
  sessionId: text(LIMITS.idMaxLength).nullish(),
  appName: text(LIMITS.nameMaxLength).nullish(),
  host: text(255).nullish(),
  statusCode: z.number().int().nullish(),
  activityType: text(LIMITS.nameMaxLength).nullish(),
  activityTypes: z.array(text(LIMITS.nameMaxLength)).max(100, { message: 'must list at most 100 types' }).nullish(),
});

/** Checks a filter coming from a caller; problems become BAD_USER_INPUT naming `filter.<field>`. */
export function parseFilter(input: unknown): RecordFilter {
  const result = filterSchema.safeParse(input ?? {});
  if (!result.success) throw new InputValidationError(issuesFromZod(result.error.issues, 'filter'));
  const filter = result.data as RecordFilter;
  if (filter.from && filter.to && filter.from.getTime() > filter.to.getTime()) {
    throw new InputValidationError([{ path: 'filter.from', index: null, field: 'from', message: 'must not be after filter.to' }]);
  }
  return filter;
}

function names(single: string | null | undefined, many: string[] | null | undefined): string[] | undefined {
  if (!single && !many) return undefined;
  return [...(single ? [single] : []), ...(many ?? [])];
}

/** Which filter keys a family understands, mapped to its column names. */
export interface FamilyColumns {
  metricName?: string;
  userId?: string;
  sessionId?: string;
  appName?: string;
  host?: string;
  statusCode?: string;
  activityType?: string;
  tags?: string;
}

/** WHERE conditions for raw analytics SQL. Column names come from the caller's constant FamilyColumns. */
export function sqlConditions(filter: RecordFilter, columns: FamilyColumns): Sql[] {
  const col = (name: string) => Prisma.raw(`"${name}"`);
  const conditions: Sql[] = [];
  if (filter.from) conditions.push(Prisma.sql`"timestamp" >= ${filter.from}`);
  if (filter.to) conditions.push(Prisma.sql`"timestamp" < ${filter.to}`);
  const metricNames = names(filter.metricName, filter.metricNames);
  if (columns.metricName && metricNames) conditions.push(Prisma.sql`${col(columns.metricName)} = ANY(${metricNames}::text[])`);
  const activityTypes = names(filter.activityType, filter.activityTypes);
  if (columns.activityType && activityTypes) {
    conditions.push(Prisma.sql`${col(columns.activityType)} = ANY(${activityTypes}::text[])`);
  }
  for (const key of ['userId', 'sessionId', 'appName', 'host'] as const) {
    const value = filter[key];
    const column = columns[key];
    if (column && value !== null && value !== undefined) conditions.push(Prisma.sql`${col(column)} = ${value}`);
  }
  if (columns.statusCode && filter.statusCode !== null && filter.statusCode !== undefined) {
    conditions.push(Prisma.sql`${col(columns.statusCode)} = ${filter.statusCode}`);
  }
  if (columns.tags && filter.tags && Object.keys(filter.tags).length > 0) {
    // Containment (@>) is a subset match and is served by the GIN index on tags.
    conditions.push(Prisma.sql`${col(columns.tags)} @> ${JSON.stringify(filter.tags)}::jsonb`);
  }
  return conditions;
}

export function whereClause(conditions: Sql[]): Sql {
  return conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
}

/** The same filter for Prisma queries (connections, counts). */
export function prismaWhere(filter: RecordFilter, fields: (keyof FamilyColumns)[]): Record<string, unknown> {
  const has = (field: keyof FamilyColumns) => fields.includes(field);
  const and: Record<string, unknown>[] = [];
  if (filter.from || filter.to) {
    and.push({ timestamp: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } });
  }
  const metricNames = names(filter.metricName, filter.metricNames);
  if (has('metricName') && metricNames) and.push({ metricName: { in: metricNames } });
  const activityTypes = names(filter.activityType, filter.activityTypes);
  if (has('activityType') && activityTypes) and.push({ activityType: { in: activityTypes } });
  for (const key of ['userId', 'sessionId', 'appName', 'host', 'statusCode'] as const) {
    const value = filter[key];
    if (has(key) && value !== null && value !== undefined) and.push({ [key]: value });
  }
  if (has('tags') && filter.tags) {
    for (const [key, value] of Object.entries(filter.tags)) and.push({ tags: { path: [key], equals: value } });
  }
  return and.length > 0 ? { AND: and } : {};
}
