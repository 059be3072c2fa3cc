import { Prisma } from '../../generated/prisma/client.js';

// Prisma's sql-template-tag: values always travel as bound parameters ($1, $2, …), never spliced into text.
export const sql = Prisma.sql;
export const join = Prisma.join;
export const empty = Prisma.empty;
export type Sql = Prisma.Sql;

/** Something that runs parameterised SQL: the pool/database itself, or one transaction. */
export interface Queryable {
  query<Row>(statement: Sql): Promise<Row[]>;
}
