import type { Matcher } from '../../core/bus/liveHub.js';
import { METRIC_FAMILY_OF_KIND, REGISTRY } from './registry.js';
import type { LiveMetric } from './topics.js';

// Live metrics arrive as batches of one family. The Metric interface must name each record's object type when
// it is resolved, so the batch's family is remembered for each record a subscription delivers (a record object
// is only ever delivered from the batch that carried it), rather than guessed from the columns a row has. Only
// delivered records are marked: marking every record of every batch cost ingest a WeakMap entry per row.
const modelOfRecord = new WeakMap<object, string>();

/** The `metricRecorded` matcher, marking each record it delivers with its family's object type. */
export function markingFamilies(matcher: Matcher<'metrics.recorded', LiveMetric>): Matcher<'metrics.recorded', LiveMetric> {
  return (batch, emit) => {
    const model = REGISTRY[METRIC_FAMILY_OF_KIND[batch.kind]].model;
    matcher(batch, (record) => {
      modelOfRecord.set(record, model);
      emit(record);
    });
  };
}

/** The GraphQL object type of a live metric record. */
export function metricKindOf(record: object): string {
  const model = modelOfRecord.get(record);
  if (!model) throw new Error('a metric record reached the Metric interface without the batch that carried it');
  return model;
}
