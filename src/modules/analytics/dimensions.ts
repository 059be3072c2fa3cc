import { Prisma } from '../../generated/prisma/client.js';
import type { Sql } from '../../core/db/sql.js';
import type { Family } from '../../core/records.js';
import { REGISTRY } from '../records/registry.js';

/** A tag key, as callers may name one to group or filter by. */
export const TAG_KEY = /^[A-Za-z0-9_.:/-]{1,100}$/;

/** Fields of a family that are dimensions of their own (not tags): its text and integer columns but free text. */
const NOT_DIMENSIONS = new Set(['description', 'userAgent', 'referrer', 'ipAddress', 'unit', 'sessionId']);

export function familyDimensions(family: Family): string[] {
  return REGISTRY[family].fields
    .filter((field) => (field.pgType === 'text' || field.pgType === 'int4') && !NOT_DIMENSIONS.has(field.name))
    .map((field) => field.name);
}

/** Whether a dimension names a field of the family (otherwise it is a tag key). */
export function isFieldDimension(family: Family, dimension: string): boolean {
  return familyDimensions(family).includes(dimension);
}

/**
 * The SQL expression of a dimension: the field's column, or the tag's text value. Tag keys travel as bound
 * parameters; column names come from the registry.
 */
export function dimensionColumn(family: Family, dimension: string): Sql {
  const field = REGISTRY[family].fields.find((candidate) => candidate.name === dimension && isFieldDimension(family, dimension));
  if (field) return field.pgType === 'int4' ? Prisma.sql`"${Prisma.raw(field.column)}"::text` : Prisma.raw(`"${field.column}"`);
  if (REGISTRY[family].kind === null) throw new Error(`${family} has no tags: ${dimension} is not one of its dimensions`);
  return Prisma.sql`tags ->> ${dimension}`;
}
