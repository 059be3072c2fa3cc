import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './common.js';
import './activities.js';
import './systemMetrics.js';
import './applicationMetrics.js';
import './userMetrics.js';
import './performanceMetrics.js';
import './ingest.js';
import './subscriptions.js';
import './apiKeys.js';
import './jobs.js';

export const schema = builder.toSchema({ sortSchema: true });

/** The SDL committed as schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
