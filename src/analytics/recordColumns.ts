import { Prisma } from '../generated/prisma/client.js';
import type { Family } from '../ingest/families.js';
import { TABLES } from '../ingest/tables.js';

/** SELECT list giving raw rows the Prisma model's shape (camelCase, id as text), optionally table-qualified. */
export function recordColumns(family: Family, alias?: string) {
  const qualify = (column: string) => (alias ? `${alias}."${column}"` : `"${column}"`);
  return Prisma.raw(
    [
      `${qualify('id')}::text AS "id"`,
      `${qualify('created_at')} AS "createdAt"`,
      ...TABLES[family].columns.map((column) => `${qualify(column.column)} AS "${column.field}"`),
    ].join(', '),
  );
}
