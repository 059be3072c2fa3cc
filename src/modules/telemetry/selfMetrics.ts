import { performance } from 'node:perf_hooks';
import { isAsyncIterable, type Plugin } from '@envelop/core';
import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LiveHub } from '../../core/bus/liveHub.js';
import type { EventBus } from '../../core/bus/pubsub.js';
import { presentError } from '../../core/errors.js';
import type { JobRunRecord } from '../../core/jobs.js';
import type { TransportStats } from '../../core/module.js';
import { FAMILIES, type StoredByFamily } from '../../core/records.js';
import type { OtlpIngestResult } from './service.js';

// The service's own metrics, for Prometheus (GET /metrics). One registry per app, not prom-client's global one:
// tests run several apps in one process, and each must count only its own traffic.

/**
 * Operation names are chosen by callers: past this many distinct ones, new names are counted as `(other)`, so a
 * caller sending random names cannot grow the scrape (and Prometheus' series) without limit.
 */
export const MAX_OPERATION_NAMES = 200;
const OTHER_OPERATION = '(other)';
const ANONYMOUS_OPERATION = '(anonymous)';

type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';
interface Operation {
  name: string;
  type: OperationType;
}

export class SelfMetrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private readonly operations: Counter<'operation' | 'type' | 'outcome'>;
  private readonly operationErrors: Counter<'operation' | 'type' | 'code'>;
  private readonly operationDuration: Histogram<'operation' | 'type'>;
  private readonly ingestedRows: Counter<'family'>;
  private readonly otlpPoints: Counter<'outcome'>;
  private readonly jobRuns: Counter<'job' | 'status'>;
  private transport: TransportStats | undefined;

  constructor(options: { live: LiveHub; bus: EventBus }) {
    const registers = [this.registry];
    // process_* (CPU, resident memory, open files), nodejs_* (event-loop lag and its percentiles, heap, GC).
    collectDefaultMetrics({ register: this.registry });
    this.operations = new Counter({
      name: 'insights_graphql_operations_total',
      help: 'GraphQL operations by name and type; outcome is error when the response carried an error.',
      labelNames: ['operation', 'type', 'outcome'],
      registers,
    });
    this.operationErrors = new Counter({
      name: 'insights_graphql_errors_total',
      help: 'Errors in GraphQL responses, by operation and error code (extensions.code).',
      labelNames: ['operation', 'type', 'code'],
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'insights_graphql_operation_duration_seconds',
      help: 'Time from parsing a query or mutation to its result (subscriptions: until the stream starts).',
      labelNames: ['operation', 'type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.ingestedRows = new Counter({
      name: 'insights_ingested_rows_total',
      help: 'Records written by this instance, by family (mutations, OTLP and jobs alike; idempotent replays are not counted).',
      labelNames: ['family'],
      registers,
    });
    for (const family of FAMILIES) this.ingestedRows.inc({ family }, 0);
    this.otlpPoints = new Counter({
      name: 'insights_otlp_data_points_total',
      help: 'OTLP metric data points received on /v1/metrics, accepted or rejected (reported in partial_success).',
      labelNames: ['outcome'],
      registers,
    });
    this.jobRuns = new Counter({
      name: 'insights_job_runs_total',
      help: 'Job runs this instance recorded as over, by job and status (SUCCEEDED, FAILED, SKIPPED).',
      labelNames: ['job', 'status'],
      registers,
    });
    const self = this;
    new Gauge({
      name: 'insights_live_subscriptions',
      help: 'Live subscription streams open on this instance (WebSocket and Server-Sent Events).',
      registers,
      collect() {
        this.set(options.live.subscriberCount);
      },
    });
    new Gauge({
      name: 'insights_websocket_connections',
      help: 'Open GraphQL WebSocket connections.',
      registers,
      collect() {
        this.set(self.transport?.webSockets() ?? 0);
      },
    });
    new Gauge({
      name: 'insights_websocket_operations',
      help: 'Operations running on GraphQL WebSocket connections.',
      registers,
      collect() {
        this.set(self.transport?.webSocketOperations() ?? 0);
      },
    });
    new Gauge({
      name: 'insights_pubsub_up',
      help: 'Whether live events can be published: 1 when pub/sub is ok, 0 when degraded (mode: redis or in-process).',
      labelNames: ['mode'],
      registers,
      collect() {
        const health = options.bus.health();
        this.reset();
        this.set({ mode: health.mode }, health.status === 'ok' ? 1 : 0);
      },
    });
    let publishErrorsSeen = 0;
    new Counter({
      name: 'insights_pubsub_publish_errors_total',
      help: 'Live events that could not be published (Redis down or not answering).',
      registers,
      collect() {
        const { publishErrors } = options.bus.health();
        if (publishErrors > publishErrorsSeen) this.inc(publishErrors - publishErrorsSeen);
        publishErrorsSeen = publishErrors;
      },
    });
  }

  /** Once the server listens: socket counts come from its transport. */
  observeTransport(transport: TransportStats): void {
    this.transport = transport;
  }

  rowsIngested(stored: StoredByFamily): void {
    for (const family of FAMILIES) {
      const count = stored[family].length;
      if (count > 0) this.ingestedRows.inc({ family }, count);
    }
  }

  otlpExport(result: OtlpIngestResult): void {
    this.otlpPoints.inc({ outcome: 'accepted' }, result.acceptedDataPoints);
    this.otlpPoints.inc({ outcome: 'rejected' }, result.rejectedDataPoints);
  }

  jobRun(run: JobRunRecord): void {
    this.jobRuns.inc({ job: run.jobName, status: run.status });
  }

  /**
   * `uncoded` names errors that carry no code yet: graphql-js' parse and validation errors get theirs when the
   * response is formatted, after these hooks.
   */
  operationDone(operation: Operation, errors: readonly unknown[], seconds: number | null, uncoded = 'UNSPECIFIED'): void {
    const labels = { operation: this.nameLabel(operation.name), type: operation.type };
    this.operations.inc({ ...labels, outcome: errors.length > 0 ? 'error' : 'ok' });
    for (const error of errors) {
      const code = presentError(error).error.extensions.code;
      this.operationErrors.inc({ ...labels, code: typeof code === 'string' ? code : uncoded });
    }
    if (seconds !== null) this.operationDuration.observe(labels, seconds);
  }

  private nameLabel(name: string): string {
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return OTHER_OPERATION;
    this.operationNames.add(name);
    return name;
  }
}

function operationOf(document: DocumentNode | undefined, operationName: string | null | undefined): Operation {
  const operation = document ? getOperationAST(document, operationName ?? undefined) : null;
  const name = operation?.name?.value ?? operationName ?? ANONYMOUS_OPERATION;
  return { name: name.slice(0, 100), type: operation?.operation ?? 'unknown' };
}

const requestedName = (context: unknown) =>
  (context as { params?: { operationName?: string | null } } | undefined)?.params?.operationName ?? undefined;

/**
 * Counts every GraphQL operation by name and type (those refused by parsing or validation too), its errors by
 * code, and times it from parsing to its result. Works for HTTP, SSE and WebSocket alike, since all three run
 * through yoga's envelop.
 */
export function useOperationMetrics(metrics: SelfMetrics): Plugin {
  const started = new WeakMap<object, number>();
  const elapsed = (context: object, fallback: number) => (performance.now() - (started.get(context) ?? fallback)) / 1000;
  return {
    onParse: ({ context }) => {
      started.set(context, performance.now());
      return ({ result }) => {
        if (result instanceof Error) metrics.operationDone({ name: requestedName(context) ?? ANONYMOUS_OPERATION, type: 'unknown' }, [result], null, 'GRAPHQL_PARSE_FAILED');
      };
    },
    onValidate:
      ({ context, params }) =>
      ({ valid, result }) => {
        if (!valid) {
          metrics.operationDone(operationOf(params.documentAST, requestedName(context)), result as readonly GraphQLError[], null, 'GRAPHQL_VALIDATION_FAILED');
        }
      },
    onExecute: ({ args }) => {
      const begun = performance.now();
      const operation = operationOf(args.document, args.operationName);
      return {
        onExecuteDone: ({ result }) => {
          // Incremental delivery (@defer/@stream) is not used here; a stream is counted as it starts.
          const errors = isAsyncIterable(result) ? [] : (result.errors ?? []);
          metrics.operationDone(operation, errors, elapsed(args.contextValue as object, begun));
        },
      };
    },
    onSubscribe: ({ args }) => {
      const begun = performance.now();
      const operation = operationOf(args.document, args.operationName);
      return {
        onSubscribeResult: ({ result }) => {
          const errors = isAsyncIterable(result) ? [] : (result.errors ?? []);
          metrics.operationDone(operation, errors, elapsed(args.contextValue as object, begun));
        },
        onSubscribeError: ({ error }) => metrics.operationDone(operation, [error], elapsed(args.contextValue as object, begun)),
      };
    },
  };
}
