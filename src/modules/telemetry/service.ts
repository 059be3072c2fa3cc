import { createHash } from 'node:crypto';
import type { Principal } from '../../core/auth.js';
import { InputValidationError } from '../../core/input.js';
import type { MetricFamily } from '../../core/records.js';
import type { Ingestor } from '../records/ingestor.js';
import { validateLists } from '../records/validation.js';
import type { ExportMetricsRequest } from './otlp/codec.js';
import { pointsOf, type PointRecords } from './otlp/mapping.js';

/** What an OTLP export came to: OTLP counts data points (a histogram point is several records here). */
export interface OtlpIngestResult {
  acceptedDataPoints: number;
  rejectedDataPoints: number;
  /** The refusals, for `partial_success.error_message`; empty when every point was accepted. */
  errorMessage: string;
  /** Records written (0 when this exact export was already stored: an exporter's retry). */
  storedRecords: number;
}

/** At most this many refusals are spelled out in the error message; the rest are counted. */
const SHOWN_REFUSALS = 10;

/**
 * OTLP metric exports into the record families, through the records module's ingest path (the same validation,
 * bulk writes, idempotency and live topics as the `ingest` mutation).
 *
 * OTLP has no partial failure for a request as a whole: each data point is accepted or refused on its own,
 * refusals are counted in `partial_success`, and the rest is stored. So points are first checked with the
 * records' own validation, one family list at a time; the points with a problem are dropped, and the others
 * are written.
 *
 * Exporters retry on 429, 503 and network errors by sending the same bytes again, and OTLP carries no
 * idempotency key: the SHA-256 of the body stands in for one, scoped to the API key, so a retried export is
 * stored once (within the records' 24-hour idempotency window).
 */
export class TelemetryService {
  private readonly exportListeners: ((result: OtlpIngestResult) => void)[] = [];

  constructor(
    private readonly ingestor: Ingestor,
    private readonly batchSize: number,
  ) {}

  /** Called after each export is handled (self-metrics count accepted and refused points). */
  onExport(listener: (result: OtlpIngestResult) => void): void {
    this.exportListeners.push(listener);
  }

  async ingestMetrics(principal: Principal, request: ExportMetricsRequest, body: Buffer): Promise<OtlpIngestResult> {
    const { points, total } = pointsOf(request);
    const refusals = refusalsOf(points, this.batchSize);
    const accepted = points.filter((_, index) => !refusals.has(index));
    const digest = createHash('sha256').update(body).digest('hex');
    let storedRecords = 0;
    // Chunks of at most INSIGHTS_BATCH_SIZE records, each an ingest of its own with a key derived from the body:
    // a retry after a failure half-way replays the chunks already stored and writes the others.
    let chunk: PointRecords[] = [];
    let chunkRecords = 0;
    let chunkIndex = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const result = await this.ingestor.ingest({
        lists: listsOf(chunk),
        idempotency: { apiKeyId: principal.keyId, key: `otlp:${digest}:${chunkIndex}`, requestHash: digest },
      });
      if (!result.replayed) storedRecords += result.count;
      chunk = [];
      chunkRecords = 0;
      chunkIndex += 1;
    };
    for (const point of accepted) {
      if (chunkRecords + point.records.length > this.batchSize) await flush();
      chunk.push(point);
      chunkRecords += point.records.length;
    }
    await flush();
    const shown = [...refusals.values()].slice(0, SHOWN_REFUSALS);
    const more = refusals.size > shown.length ? `; and ${refusals.size - shown.length} more` : '';
    const result: OtlpIngestResult = {
      acceptedDataPoints: total - refusals.size,
      rejectedDataPoints: refusals.size,
      errorMessage: refusals.size > 0 ? `${refusals.size} of ${total} data points refused: ${shown.join('; ')}${more}` : '',
      storedRecords,
    };
    for (const listener of this.exportListeners) listener(result);
    return result;
  }
}

function listsOf(points: readonly PointRecords[]) {
  const byFamily = new Map<MetricFamily, Record<string, unknown>[]>();
  for (const point of points) {
    const items = byFamily.get(point.family) ?? [];
    items.push(...point.records);
    byFamily.set(point.family, items);
  }
  return [...byFamily].map(([family, items]) => ({ family, items, path: family, indexed: true }));
}

/** The points whose records the records' validation refuses, by index into `points`, with what is wrong. */
function refusalsOf(points: readonly PointRecords[], batchSize: number): Map<number, string> {
  const refusals = new Map<number, string>();
  const byFamily = new Map<MetricFamily, { items: Record<string, unknown>[]; pointOf: number[] }>();
  points.forEach((point, index) => {
    if (point.records.length > batchSize) {
      // A summary with more quantiles than one ingest may hold (INSIGHTS_BATCH_SIZE).
      refusals.set(index, `${point.where}: becomes ${point.records.length} records; at most ${batchSize} are accepted per point (INSIGHTS_BATCH_SIZE)`);
      return;
    }
    let list = byFamily.get(point.family);
    if (!list) byFamily.set(point.family, (list = { items: [], pointOf: [] }));
    for (const record of point.records) {
      list.items.push(record);
      list.pointOf.push(index);
    }
  });
  const receivedAt = new Date();
  for (const [family, { items, pointOf }] of byFamily) {
    try {
      validateLists([{ family, items, path: family, indexed: true }], { receivedAt, maxItems: Number.POSITIVE_INFINITY });
    } catch (error) {
      if (!(error instanceof InputValidationError)) throw error;
      for (const issue of error.issues) {
        const index = pointOf[issue.index ?? -1];
        if (index === undefined || refusals.has(index)) continue;
        refusals.set(index, `${points[index]?.where}: ${issue.field} ${issue.message}`);
      }
    }
  }
  return refusals;
}
