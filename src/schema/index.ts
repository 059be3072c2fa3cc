import { lexicographicSortSchema, printSchema } from 'graphql';
import { MODULES } from '../modules/index.js';
import { builder } from './builder.js';

// Each module's schema file registers its types and fields with the builder when the module is imported;
// MODULES is referenced so that every one of them is, before the schema is built.
if (MODULES.length === 0) throw new Error('no modules registered');

export const schema = builder.toSchema({ sortSchema: true });

/** The SDL committed as schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
