import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { bearerToken } from '../../core/auth.js';
import { InputValidationError } from '../../core/input.js';
import type { HttpRoute } from '../../core/module.js';
import type { OtlpEncoding } from './otlp/codec.js';
import type { SelfMetrics } from './selfMetrics.js';
import type { TelemetryService } from './service.js';

const gunzipAsync = promisify(gunzip);

// protobufjs reads and links the .proto files as the codec loads (a few hundred milliseconds): on the first
// export rather than on every start of an instance that may never receive one.
let codecModule: Promise<typeof import('./otlp/codec.js')> | undefined;
const loadCodec = () => (codecModule ??= import('./otlp/codec.js'));

// gRPC status codes, which OTLP/HTTP error bodies (google.rpc.Status) carry.
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;

const CONTENT_TYPES: Record<OtlpEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

function answer(res: ServerResponse, status: number, encoding: OtlpEncoding, body: Buffer, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': CONTENT_TYPES[encoding], 'content-length': String(body.length), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** The body as sent: OTLP exporters may gzip it. Decompression is bounded by the same limit as the body itself. */
async function decompressed(req: IncomingMessage, body: Buffer, limitBytes: number): Promise<Buffer> {
  const coding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || coding === '') return body;
  if (coding !== 'gzip') throw new BodyError(415, `Content-Encoding ${coding} is not supported: send gzip or no encoding`);
  try {
    return await gunzipAsync(body, { maxOutputLength: limitBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new BodyError(413, `Request body exceeds the limit of ${limitBytes} bytes once decompressed`);
    }
    throw new BodyError(400, `The gzip body could not be decompressed: ${(error as Error).message}`);
  }
}

/**
 * POST /v1/metrics: OTLP/HTTP metrics export (binary protobuf or JSON), for keys holding INGEST. As OTLP/HTTP
 * specifies: 200 with an ExportMetricsServiceResponse in the request's encoding (partial_success when points
 * were refused), 400 with a google.rpc.Status for a body that is not an export request, 415 for other media
 * types. Refusals before the body is read (401, 403, 413, 429 with Retry-After) are the service's usual ones,
 * and a failure of the database is 503, which exporters retry.
 */
export function otlpMetricsRoute(telemetry: TelemetryService, limitBytes: number): HttpRoute {
  return {
    method: 'POST',
    path: '/v1/metrics',
    async handle(req, res, context) {
      const principal = await context.admit('INGEST');
      if (!principal) return;
      const { decodeRequest, encodeResponse, encodeStatus, encodingOf, OtlpDecodeError } = await loadCodec();
      const encoding = encodingOf(req.headers['content-type']);
      if (!encoding) {
        req.resume();
        answer(
          res,
          415,
          'json',
          encodeStatus('json', INVALID_ARGUMENT, `Content-Type ${req.headers['content-type'] ?? '(none)'} is not supported: send application/x-protobuf or application/json`),
        );
        return;
      }
      const raw = await context.body(limitBytes);
      if (!raw) return;
      let request;
      let body: Buffer;
      try {
        body = await decompressed(req, raw, limitBytes);
        request = decodeRequest(body, encoding);
      } catch (error) {
        if (error instanceof BodyError) {
          answer(res, error.status, encoding, encodeStatus(encoding, error.status === 413 ? RESOURCE_EXHAUSTED : INVALID_ARGUMENT, error.message));
          return;
        }
        if (error instanceof OtlpDecodeError) {
          answer(res, 400, encoding, encodeStatus(encoding, INVALID_ARGUMENT, error.message));
          return;
        }
        throw error;
      }
      try {
        const result = await telemetry.ingestMetrics(principal, request, body);
        answer(res, 200, encoding, encodeResponse(encoding, result.rejectedDataPoints, result.errorMessage));
      } catch (error) {
        // The records' own checks refuse nothing that the point-by-point checks let through; an idempotency
        // key clash (the same body hash for another request) is the one input error left.
        if (!(error instanceof InputValidationError)) throw error;
        answer(res, 400, encoding, encodeStatus(encoding, INVALID_ARGUMENT, error.message));
      }
    },
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * GET /metrics: the service's own metrics in Prometheus' text format, for an ADMIN key, or for the scrape token
 * INSIGHTS_METRICS_TOKEN (a scraper needs no API key, and the token opens nothing else).
 */
export function prometheusRoute(metrics: SelfMetrics, metricsToken: string | undefined): HttpRoute {
  const expected = metricsToken ? digest(metricsToken) : null;
  return {
    method: 'GET',
    path: '/metrics',
    async handle(req, res, context) {
      const token = bearerToken(req.headers.authorization);
      // Compared as SHA-256 digests, so the comparison takes the same time whatever the token's length.
      const byToken = expected !== null && token !== null && timingSafeEqual(digest(token), expected);
      if (!byToken && !(await context.admit('ADMIN'))) return;
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
  };
}
