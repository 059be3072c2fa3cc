import type { LiveHub } from '../../core/bus/liveHub.js';
import { METRIC_FAMILY_OF_KIND, REGISTRY } from './registry.js';

// Live metrics arrive as batches of one family. The Metric interface must name each record's object type when
// it is resolved, so the batch's family is remembered per record as batches arrive (a record object is only
// ever delivered from the batch that carried it), rather than guessed from the columns a row has.
const modelOfRecord = new WeakMap<object, string>();

export function rememberMetricFamilies(live: LiveHub): () => void {
  return live.on('metrics.recorded', (batch) => {
    const model = REGISTRY[METRIC_FAMILY_OF_KIND[batch.kind]].model;
    for (const record of batch.records) modelOfRecord.set(record, model);
  });
}

/** The GraphQL object type of a live metric record. */
export function metricKindOf(record: object): string {
  const model = modelOfRecord.get(record);
  if (!model) throw new Error('a metric record reached the Metric interface without the batch that carried it');
  return model;
}
