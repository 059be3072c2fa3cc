import type { InsightsClientIngestMutation } from './generated/graphql.js';
import { IngestDocument } from './operations.js';
import { FAMILIES, type Family } from './types.js';

/** A problem the service located in one record: `input.systemMetrics[3].metricName`. */
export interface LocatedIssue {
  family: Family;
  index: number;
  path: string;
  field: string;
  message: string;
}

/** How one attempt at sending a batch ended, and what to do next. */
export type Outcome =
  | { kind: 'stored'; count: number; replayed: boolean }
  /** Worth another attempt with the same idempotency key; `retryAfterMs` when the service said when. */
  | { kind: 'retry'; status: number | null; code: string | null; message: string; retryAfterMs: number | null }
  /** The service refused records as invalid; `issues` is empty when it did not say which. */
  | { kind: 'rejected'; code: string; message: string; issues: LocatedIssue[] }
  /** The batch is too large for the service: send it in smaller parts. */
  | { kind: 'tooLarge'; message: string }
  /** Nothing a retry would fix (an invalid key, a forbidden operation). */
  | { kind: 'failed'; status: number | null; code: string | null; message: string };

interface GraphQLBody {
  data?: InsightsClientIngestMutation | null;
  errors?: { message: string; extensions?: { code?: string; issues?: unknown; retryAfterSeconds?: unknown } }[];
}

/** Retry-After is either seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const ISSUE_PATH = /^input\.(\w+)\[(\d+)\]/;

function locate(issues: unknown): LocatedIssue[] {
  if (!Array.isArray(issues)) return [];
  const located: LocatedIssue[] = [];
  for (const raw of issues as { path?: unknown; field?: unknown; message?: unknown }[]) {
    if (typeof raw?.path !== 'string') continue;
    const match = ISSUE_PATH.exec(raw.path);
    if (!match || !(FAMILIES as readonly string[]).includes(match[1] as string)) continue;
    located.push({
      family: match[1] as Family,
      index: Number(match[2]),
      path: raw.path,
      field: typeof raw.field === 'string' ? raw.field : '',
      message: typeof raw.message === 'string' ? raw.message : '',
    });
  }
  return located;
}

// graphql-js's own refusals of variables name the spot in the message only ("... at \"input.systemMetrics[0].value\"").
const MESSAGE_PATH = /"(input\.(\w+)\[(\d+)\][^"]*)"/;

function locateInMessage(message: string): LocatedIssue[] {
  const match = MESSAGE_PATH.exec(message);
  if (!match || !(FAMILIES as readonly string[]).includes(match[2] as string)) return [];
  return [{ family: match[2] as Family, index: Number(match[3]), path: match[1] as string, field: match[1]!.split('.').pop() ?? '', message }];
}

/** The service's INSIGHTS_BATCH_SIZE is below the client's batchSize: valid records, too many at once. */
function isBatchLimit(issues: unknown): boolean {
  return Array.isArray(issues) && issues.some((raw: { index?: unknown; message?: unknown }) => raw?.index === null && typeof raw.message === 'string' && raw.message.includes('per request'));
}

const RETRYABLE_CODES = new Set(['RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL_SERVER_ERROR', 'SUBSCRIPTION_OVERFLOW']);
const INVALID_CODES = new Set(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']);

/** Sends one `ingest` request and classifies the answer; never throws. */
export async function postIngest(options: {
  fetch: typeof fetch;
  endpoint: string;
  apiKey: string;
  idempotencyKey: string;
  input: Record<string, unknown>;
  timeoutMs: number;
}): Promise<Outcome> {
  let response: Response;
  let body: GraphQLBody | null = null;
  try {
    response = await options.fetch(options.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${options.apiKey}`,
      },
      body: JSON.stringify({ query: IngestDocument.toString(), variables: { idempotencyKey: options.idempotencyKey, input: options.input } }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    try {
      body = text ? (JSON.parse(text) as GraphQLBody) : null;
    } catch {
      body = null;
    }
  } catch (error) {
    // Refused connection, reset, DNS, timeout: the request may or may not have been stored, which the
    // idempotency key makes safe to find out by sending it again.
    const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
    return { kind: 'retry', status: null, code: null, message, retryAfterMs: null };
  }

  const status = response.status;
  const first = body?.errors?.[0];
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : null;
  const message = first?.message ?? `HTTP ${status}`;
  if (body?.data?.ingest && !body.errors?.length) {
    return { kind: 'stored', count: body.data.ingest.count, replayed: body.data.ingest.replayed };
  }
  if (status === 429 || status >= 500 || (code !== null && RETRYABLE_CODES.has(code))) {
    const hinted = first?.extensions?.retryAfterSeconds;
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after')) ?? (typeof hinted === 'number' ? hinted * 1000 : null);
    return { kind: 'retry', status, code, message, retryAfterMs };
  }
  if (status === 413 || code === 'PAYLOAD_TOO_LARGE') return { kind: 'tooLarge', message };
  if (code === 'BAD_USER_INPUT' && body?.errors?.some((error) => isBatchLimit(error.extensions?.issues))) {
    return { kind: 'tooLarge', message };
  }
  if (code !== null && INVALID_CODES.has(code)) {
    const issues = body?.errors?.flatMap((error) => {
      const located = locate(error.extensions?.issues);
      return located.length > 0 ? located : locateInMessage(error.message);
    }) ?? [];
    return { kind: 'rejected', code, message, issues };
  }
  // A 400 without a code is a request graphql-js refused before execution (a bad variable): the caller's records.
  if (status === 400 && code === null) return { kind: 'rejected', code: 'BAD_USER_INPUT', message, issues: locateInMessage(message) };
  return { kind: 'failed', status, code, message };
}
