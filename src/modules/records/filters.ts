import { z } from 'zod';
import { invalidInput, LIMITS, parseInput, text, flatTags } from '../../core/input.js';
import type { Family } from '../../core/records.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Sql } from '../../core/db/sql.js';
import { columnOf, REGISTRY, type FilterSpec } from './registry.js';

/**
 * One filter shape for every family; each family honours the keys its registry entry lists (its GraphQL
 * filter input has only those). Ranges are half-open on `timestamp`: from ≤ timestamp < to.
 */
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
const filterSchema = z.object({
  from: z.date().nullish(),
  to: z.date().nullish(),
  metricName: text(LIMITS.nameMaxLength).nullish(),
  metricNames: z.array(text(LIMITS.nameMaxLength)).max(100, { message: 'must list at most 100 names' }).nullish(),
  tags: flatTags.nullish(),
  userId: text(LIMITS.idMaxLength).nullish(),
  sessionId: text(LIMITS.idMaxLength).nullish(),
  appName: text(LIMITS.nameMaxLength).nullish(),
  host: text(255).nullish(),
  statusCode: z.number().int().nullish(),
  activityType: text(LIMITS.nameMaxLength).nullish(),
  activityTypes: z.array(text(LIMITS.nameMaxLength)).max(100, { message: 'must list at most 100 types' }).nullish(),
});

/** Checks a filter coming from a caller; problems become BAD_USER_INPUT naming `<prefix>.<field>`. */
export function parseFilter(input: unknown, prefix = 'filter'): RecordFilter {
  const filter = parseInput(filterSchema, input ?? {}, prefix) as RecordFilter;
  if (filter.from && filter.to && filter.from.getTime() > filter.to.getTime()) {
    throw invalidInput(`${prefix}.from`, `must not be after ${prefix}.to`);
  }
  return filter;
}

/** The values a filter asks for on one field: the singular and plural keys together (metricName + metricNames). */
function wanted(filter: RecordFilter, specs: FilterSpec[], field: string): unknown[] | undefined {
  const values: unknown[] = [];
  for (const spec of specs) {
    if (spec.field !== field || spec.kind === 'tags') continue;
    const value = (filter as Record<string, unknown>)[spec.name];
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) values.push(...value);
    else values.push(value);
  }
  return values.length > 0 ? values : undefined;
}

/** The fields a family filters on, each with how it matches. */
function matchedFields(family: Family): { field: string; kind: FilterSpec['kind']; specs: FilterSpec[] }[] {
  const specs = REGISTRY[family].filters;
  const fields = [...new Set(specs.map((spec) => spec.field))];
  return fields.map((field) => {
    const own = specs.filter((spec) => spec.field === field);
    return { field, kind: own.some((spec) => spec.kind === 'tags') ? 'tags' : own.some((spec) => spec.kind === 'oneOf') ? 'oneOf' : 'equals', specs: own };
  });
}

/** WHERE conditions for raw SQL over the family's table (optionally table-qualified by `alias`). */
export function sqlConditions(filter: RecordFilter, family: Family, alias?: string): Sql[] {
  const col = (field: string) => Prisma.raw(`${alias ? `${alias}.` : ''}"${columnOf(family, field)}"`);
  const time = Prisma.raw(`${alias ? `${alias}.` : ''}"timestamp"`);
  const conditions: Sql[] = [];
  if (filter.from) conditions.push(Prisma.sql`${time} >= ${filter.from}`);
  if (filter.to) conditions.push(Prisma.sql`${time} < ${filter.to}`);
  for (const { field, kind, specs } of matchedFields(family)) {
    if (kind === 'tags') {
      // Containment (@>) is a subset match; reads by rollup tags are served by the rollups, others narrow by time first.
      if (filter.tags && Object.keys(filter.tags).length > 0) conditions.push(Prisma.sql`${col(field)} @> ${JSON.stringify(filter.tags)}::jsonb`);
      continue;
    }
    const values = wanted(filter, specs, field);
    if (!values) continue;
    if (kind === 'oneOf') conditions.push(Prisma.sql`${col(field)} = ANY(${values as string[]}::text[])`);
    else conditions.push(Prisma.sql`${col(field)} = ${values[0]}`);
  }
  return conditions;
}

export function whereClause(conditions: Sql[]): Sql {
  return conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
}

/** The same filter for Prisma queries (connections, counts). */
export function prismaWhere(filter: RecordFilter, family: Family): Record<string, unknown> {
  const and: Record<string, unknown>[] = [];
  if (filter.from || filter.to) {
    and.push({ timestamp: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } });
  }
  for (const { field, kind, specs } of matchedFields(family)) {
    if (kind === 'tags') {
      for (const [key, value] of Object.entries(filter.tags ?? {})) and.push({ [field]: { path: [key], equals: value } });
      continue;
    }
    const values = wanted(filter, specs, field);
    if (!values) continue;
    and.push(kind === 'oneOf' ? { [field]: { in: values } } : { [field]: values[0] });
  }
  return and.length > 0 ? { AND: and } : {};
}

/** SELECT list giving raw rows the Prisma model's shape (camelCase, id as text), optionally table-qualified. */
export function recordColumns(family: Family, alias?: string): Sql {
  const qualify = (column: string) => (alias ? `${alias}."${column}"` : `"${column}"`);
  return Prisma.raw(
    [
      `${qualify('id')}::text AS "id"`,
      `${qualify('created_at')} AS "createdAt"`,
      ...REGISTRY[family].fields.map((field) => `${qualify(field.column)} AS "${field.name}"`),
    ].join(', '),
  );
}
