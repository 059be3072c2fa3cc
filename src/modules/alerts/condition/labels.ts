/**
 * What a label matcher's label names in a record, per family: a record field (by its GraphQL/Prisma field name)
 * when the family has one of that name, otherwise a key of the record's tags (user activities have no tags:
 * a key of their metadata). Values are compared as text; a tag holding a number or boolean reads as its JSON text.
 */
import type { RecordFamily } from './ast.js';

export type LabelTarget = { kind: 'field'; field: string } | { kind: 'tag'; key: string } | { kind: 'metadata'; key: string };

const METRIC_FIELDS = ['metricName', 'metricType', 'unit'];

/** Label → record field, per family. `app` is the seed rules' name for an application metric's appName. */
export const LABEL_FIELDS: Readonly<Record<RecordFamily, Readonly<Record<string, string>>>> = {
  SYSTEM: fields([...METRIC_FIELDS, 'host']),
  APPLICATION: { ...fields([...METRIC_FIELDS, 'appName']), app: 'appName' },
  USER: fields([...METRIC_FIELDS, 'userId', 'sessionId']),
  PERFORMANCE: fields([...METRIC_FIELDS, 'statusCode']),
  ACTIVITY: fields(['activityType', 'userId', 'ipAddress', 'userAgent', 'referrer']),
};

function fields(names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, n]));
}

/** Where `label` is read in records of `family` (use conditionFamily for the family a condition reads). */
export function labelTarget(family: RecordFamily, label: string): LabelTarget {
  const byFamily = LABEL_FIELDS[family];
  if (Object.hasOwn(byFamily, label)) return { kind: 'field', field: byFamily[label]! };
  return family === 'ACTIVITY' ? { kind: 'metadata', key: label } : { kind: 'tag', key: label };
}
