import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// OTLP/HTTP bodies, read and written by protobufjs from the official .proto files (../proto). Both encodings
// end up as the same plain object (`toObject` below), so the mapping to records has one input shape.
//
// The path is taken relative to this module like prisma/migrations in core/db/migrate.ts: dist/ mirrors src/,
// so from src/modules/telemetry/otlp/ and dist/modules/telemetry/otlp/ alike it lands on the sources' proto/.
const PROTO_DIR = fileURLToPath(new URL('../../../../src/modules/telemetry/proto/', import.meta.url));

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : `${PROTO_DIR}${target}`);
root.loadSync(['opentelemetry/proto/collector/metrics/v1/metrics_service.proto', 'google/rpc/status.proto'], { keepCase: false });

const ExportRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const ExportResponse = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');
const Status = root.lookupType('google.rpc.Status');

/** How the body is encoded, from its Content-Type: OTLP/HTTP has binary protobuf and protobuf's JSON mapping. */
export type OtlpEncoding = 'protobuf' | 'json';

export function encodingOf(contentType: string | undefined): OtlpEncoding | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return null;
}

// ---- the decoded request, as plain objects --------------------------------------------------------------------

export interface AnyValue {
  value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
  kvlistValue?: { values: KeyValue[] };
  bytesValue?: string;
}
export interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface PointBase {
  attributes: KeyValue[];
  startTimeUnixNano?: number;
  timeUnixNano?: number;
  flags?: number;
}
export interface NumberDataPoint extends PointBase {
  value?: 'asDouble' | 'asInt';
  asDouble?: number;
  asInt?: number;
}
export interface HistogramDataPoint extends PointBase {
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts: number[];
  explicitBounds: number[];
}
export interface ExponentialBuckets {
  offset?: number;
  bucketCounts: number[];
}
export interface ExponentialHistogramDataPoint extends PointBase {
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  scale?: number;
  zeroCount?: number;
  zeroThreshold?: number;
  positive?: ExponentialBuckets;
  negative?: ExponentialBuckets;
}
export interface SummaryDataPoint extends PointBase {
  count?: number;
  sum?: number;
  quantileValues: { quantile?: number; value?: number }[];
}
/** AggregationTemporality: 1 delta, 2 cumulative (0 unspecified). */
export type Temporality = 0 | 1 | 2;
export interface OtlpMetric {
  name?: string;
  description?: string;
  unit?: string;
  data?: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  gauge?: { dataPoints: NumberDataPoint[] };
  sum?: { dataPoints: NumberDataPoint[]; aggregationTemporality?: Temporality; isMonotonic?: boolean };
  histogram?: { dataPoints: HistogramDataPoint[]; aggregationTemporality?: Temporality };
  exponentialHistogram?: { dataPoints: ExponentialHistogramDataPoint[]; aggregationTemporality?: Temporality };
  summary?: { dataPoints: SummaryDataPoint[] };
}
export interface ExportMetricsRequest {
  resourceMetrics: {
    resource?: { attributes: KeyValue[] };
    scopeMetrics: { scope?: { name?: string; version?: string }; metrics: OtlpMetric[] }[];
  }[];
}

/** A body that is not an OTLP metrics export request: answered with 400 and this message. */
export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

const TO_OBJECT: protobuf.IConversionOptions = {
  // Times are nanoseconds since the epoch (~1.7e18): as doubles they keep a precision of a few hundred
  // nanoseconds, far below the milliseconds records store.
  longs: Number,
  enums: Number,
  bytes: String,
  arrays: true,
  oneofs: true,
};

export function decodeRequest(body: Buffer, encoding: OtlpEncoding): ExportMetricsRequest {
  let message: protobuf.Message;
  if (encoding === 'protobuf') {
    try {
      message = ExportRequest.decode(body);
    } catch (error) {
      throw new OtlpDecodeError(`The body is not a protobuf ExportMetricsServiceRequest: ${(error as Error).message}`);
    }
  } else {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new OtlpDecodeError(`The body is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new OtlpDecodeError('The body must be a JSON object (an ExportMetricsServiceRequest)');
    }
    try {
      // protobuf's JSON mapping, as OTLP/JSON specifies it: lowerCamelCase keys, 64-bit integers as numbers or
      // decimal strings, enums as integers. Unknown fields are ignored, as the OTLP specification requires.
      message = ExportRequest.fromObject(json);
    } catch (error) {
      // protobufjs names the message type and field in its TypeError, e.g. ".opentelemetry…Metric.gauge: object expected".
      throw new OtlpDecodeError(`The body is not an OTLP/JSON ExportMetricsServiceRequest: ${(error as Error).message}`);
    }
  }
  try {
    return ExportRequest.toObject(message, TO_OBJECT) as ExportMetricsRequest;
  } catch (error) {
    // Attribute values nested (arrays in arrays…) deeper than the stack allows.
    throw new OtlpDecodeError(`The export request could not be read: ${(error as Error).message}`);
  }
}

/** ExportMetricsServiceResponse: `partial_success` is set only when points were refused. */
export function encodeResponse(encoding: OtlpEncoding, rejectedDataPoints: number, errorMessage: string): Buffer {
  const payload = rejectedDataPoints > 0 || errorMessage ? { partialSuccess: { rejectedDataPoints, errorMessage } } : {};
  if (encoding === 'json') {
    // protobuf's JSON mapping writes 64-bit integers as decimal strings.
    const json = ExportResponse.toObject(ExportResponse.fromObject(payload), { longs: String });
    return Buffer.from(JSON.stringify(json), 'utf8');
  }
  return Buffer.from(ExportResponse.encode(ExportResponse.fromObject(payload)).finish());
}

/** The body of an OTLP/HTTP error response: a google.rpc.Status with a gRPC code (3 INVALID_ARGUMENT…). */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string): Buffer {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code, message }), 'utf8');
  return Buffer.from(Status.encode(Status.fromObject({ code, message })).finish());
}
