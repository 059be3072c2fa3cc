import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { fixed, integer, table } from './format.js';
import { postGraphQL, withinMs } from './harness.js';
import { LeanWebSocket } from './leanWebSocket.js';

/**
 * Live fan-out: `subscribers` WebSocket subscriptions to metricRecorded on one service instance, while a writer
 * stores `rate` records a second through recordSystemMetric over HTTP. Each record's value is the time it was
 * sent, so every subscriber measures publish-to-receive latency against the same clock (writer and subscribers
 * are this process). The same run measures a bare `ws` broadcast server (bench/fanout-baseline.ts) delivering
 * messages of the same size at the same rate to as many bare sockets: the floor for this machine, so the
 * service's p99 is judged as a multiple of it. Both write one WebSocket message per event and subscriber, so at
 * high rates the baseline can fall behind too (one send syscall per message); the report then says so rather
 * than divide by a backlog.
 */

/** Targets: everything delivered, p99 at most this multiple of the baseline's now, and this p99 later. */
export const P99_RATIO_TARGET_NOW = 10;
export const P99_GOAL_LATER_MS = 50;

const METRIC_NAME = 'fanout';
const SUBSCRIPTION = `subscription { metricRecorded(filter: { metricNames: ["${METRIC_NAME}"] }) { id metricName value timestamp } }`;
const MUTATION = 'mutation RecordFanout($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id } }';
const PROTOCOL = 'graphql-transport-ws';

// Handshakes in flight at once: 1,000 at a time would make the service look up the key 1,000 times at once
// (its key cache is empty until the first lookup finishes), which is a thundering herd, not a benchmark.
const CONNECT_CONCURRENCY = 50;
const READY_TIMEOUT_MS = 15_000;
const REGISTER_TIMEOUT_MS = 30_000;
const PROBE_INTERVAL_MS = 250;
const REQUEST_TIMEOUT_MS = 30_000;
// An open-loop writer sends on schedule whatever the server's latency. A server with this many seconds' worth
// of writes unanswered gets no more until it answers: those events count as failed writes, and the run keeps
// its length and schedule instead of turning into a closed loop paced by the server.
const MAX_UNANSWERED_SECONDS = 2;
// Untimed writes at the full rate first, so the first timed events do not pay for JIT compilation and cold
// caches in either server.
const WARMUP_SECONDS = 1;
// At 200 events/s a message arrives every few milliseconds; this much silence means the backlog is gone.
const QUIET_MS = 250;
// After the last write, deliveries may lag this long (or the run's length, if longer) before they count as lost.
const DRAIN_MIN_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;
// A write this late against its schedule, or a last delivery this long after the last write, means the server
// fell behind the rate: its latencies then measure a growing backlog, not delivery.
const BACKLOG_MS = 1_000;
const MAX_REPORTED_PROBLEMS = 5;
// Linux reports process CPU time in clock ticks; USER_HZ is 100 on every mainstream architecture.
const CLOCK_TICKS_PER_SECOND = 100;

export interface FanoutBenchmarkOptions {
  graphqlUrl: string;
  apiKey: string;
  subscribers: number;
  /** Events (records) written per second. */
  rate: number;
  seconds: number;
  signal: AbortSignal;
  print: (line: string) => void;
}

export interface FanoutPhaseResult {
  label: string;
  expected: number;
  delivered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface FanoutBenchmarkResult {
  baseline: FanoutPhaseResult;
  service: FanoutPhaseResult;
  p99Ratio: number;
  /** Empty when nothing went wrong and the service delivered every event exactly once; otherwise the run failed. */
  problems: string[];
}

/** Wall-clock milliseconds with sub-millisecond resolution; writer and subscribers read the same clock. */
const clock = () => performance.timeOrigin + performance.now();

interface Target {
  label: string;
  httpUrl: string;
  wsUrl: string;
  /**
   * `graphql-transport-ws`: connection_init with the key, then one subscribe per socket (the service).
   * `bare`: no handshake beyond the WebSocket one; the server pushes every event to every socket (baseline).
   */
  protocol: 'graphql-transport-ws' | 'bare';
  apiKey: string;
  /** The server's process, for its CPU time; undefined when it cannot be found. */
  pid: number | undefined;
}

/** The server messages of graphql-transport-ws this client can receive besides `next`. */
interface ServerMessage {
  type?: string;
}

// What marks a `next` message, and its one number, as graphql-ws and the baseline write them.
const NEXT_MARKER = Buffer.from('"type":"next","payload":{"data":{"metricRecorded":{');
const VALUE_FIELD = Buffer.from('"value":');
const ERRORS_FIELD = Buffer.from('"errors":');
const COMMA = 0x2c;
const CLOSING_BRACE = 0x7d;

/**
 * The subscribers, as lean as a graphql-transport-ws client can be: LeanWebSocket connections and one handler,
 * with counters in typed arrays rather than an object per event, so that 200,000 messages a second leave CPU
 * for the servers being measured. Timed events carry their send time as value (> 0); untimed ones (probes,
 * warm-up) carry its negation, so they prove a subscription is registered without counting as deliveries.
 */
class Fleet {
  private readonly sockets: LeanWebSocket[] = [];
  private closedCount = 0;
  private allClosed: (() => void) | undefined;
  private readonly registeredFlags: Uint8Array;
  private readonly latenciesMs: Float64Array;
  private samples = 0;
  private closing = false;
  private problemCount = 0;
  private readonly problemList: string[] = [];
  /** Timed events received, by all subscribers together. */
  delivered = 0;
  /** Subscribers that have received at least one event, so their subscription is live. */
  registered = 0;
  lastMessageAt = 0;
  /** Size of a timed `next` message as received, to show both servers send the same bytes. */
  messageBytes = 0;

  constructor(
    private readonly target: Target,
    readonly size: number,
    expectedEvents: number,
  ) {
    this.registeredFlags = new Uint8Array(size);
    this.latenciesMs = new Float64Array(size * expectedEvents);
  }

  get problems(): string[] {
    const more = this.problemCount - this.problemList.length;
    return more > 0 ? [...this.problemList, `… and ${integer(more)} more`] : [...this.problemList];
  }

  /** Latencies of the timed events received so far, ascending. */
  sortedLatencies(): Float64Array {
    return this.latenciesMs.slice(0, this.samples).sort();
  }

  async connect(signal: AbortSignal): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < this.size && !this.closing) {
        signal.throwIfAborted();
        await this.open(next++);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, this.size) }, worker));
  }

  /** Resolves once the socket is open and, for graphql-transport-ws, acknowledged and subscribed. */
  private async open(index: number): Promise<void> {
    const { target } = this;
    let ready = false;
    let settle!: (error?: Error) => void;
    const settled = new Promise<void>((resolve, reject) => {
      settle = (error?: Error) => {
        if (ready) return;
        ready = true;
        if (error) reject(error);
        else resolve();
      };
    });
    const socket = await LeanWebSocket.open(target.wsUrl, target.protocol === 'bare' ? undefined : PROTOCOL, READY_TIMEOUT_MS, {
      onText: (chunk, start, end) => this.onText(index, socket, chunk, start, end, settle),
      onProblem: (text) => this.problem(`subscriber ${index}: ${text}`),
      onClose: (code, reason) => {
        this.closedCount += 1;
        if (this.closedCount === this.size) this.allClosed?.();
        const detail = `subscriber ${index}: socket closed with ${code}${reason.length > 0 ? ` ${reason}` : ''}`;
        if (!ready) settle(new Error(detail));
        else if (!this.closing) this.problem(detail);
      },
    }).catch((error: unknown) => {
      throw new Error(`subscriber ${index}: ${error instanceof Error ? error.message : String(error)}`);
    });
    this.sockets[index] = socket;
    if (target.protocol === 'bare') return settle();
    const timer = setTimeout(() => {
      socket.terminate();
      settle(new Error(`subscriber ${index}: not ready within ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    socket.sendText(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${target.apiKey}` } }));
    try {
      await settled;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One message. `next` messages, all but a handful, are read where they lie: the envelope is checked and the
   * value is the one number parsed, with no JSON.parse and no string of the whole message; the rest are parsed.
   */
  private onText(
    index: number,
    socket: LeanWebSocket,
    chunk: Buffer,
    start: number,
    end: number,
    settle: (error?: Error) => void,
  ): void {
    const now = clock();
    const message = chunk.subarray(start, end);
    const next = message.indexOf(NEXT_MARKER);
    if (next >= 0) {
      const field = message.indexOf(VALUE_FIELD, next);
      if (field < 0 || message.indexOf(ERRORS_FIELD, next) >= 0) {
        return this.problem(`subscriber ${index}: unexpected next payload ${message.toString('utf8', 0, 300)}`);
      }
      let valueEnd = field + VALUE_FIELD.length;
      while (valueEnd < message.length && message[valueEnd] !== COMMA && message[valueEnd] !== CLOSING_BRACE) valueEnd += 1;
      const value = Number(message.toString('latin1', field + VALUE_FIELD.length, valueEnd));
      if (!Number.isFinite(value)) return this.problem(`subscriber ${index}: value is not a number: ${message.toString('utf8', 0, 300)}`);
      return this.onNext(index, value, now, message.length);
    }
    let parsed: ServerMessage;
    try {
      parsed = JSON.parse(message.toString('utf8')) as ServerMessage;
    } catch {
      return this.problem(`subscriber ${index}: message is not JSON: ${message.toString('utf8', 0, 200)}`);
    }
    switch (parsed.type) {
      case 'connection_ack':
        socket.sendText(JSON.stringify({ id: randomUUID(), type: 'subscribe', payload: { query: SUBSCRIPTION } }));
        return settle();
      case 'ping':
        return socket.sendText('{"type":"pong"}');
      default:
        // `error` or `complete`: the server ended this subscription, so its later events will be missing.
        return this.problem(`subscriber ${index}: ${message.toString('utf8', 0, 300)}`);
    }
  }

  private onNext(index: number, value: number, now: number, bytes: number): void {
    this.lastMessageAt = now;
    if (this.registeredFlags[index] === 0) {
      this.registeredFlags[index] = 1;
      this.registered += 1;
    }
    if (value < 0) return;
    this.delivered += 1;
    if (this.messageBytes === 0) this.messageBytes = bytes;
    // More timed events than were written (a duplicate) overflow the array; `delivered` still counts them.
    if (this.samples < this.latenciesMs.length) this.latenciesMs[this.samples++] = now - value;
  }

  private problem(text: string): void {
    this.problemCount += 1;
    if (this.problemList.length < MAX_REPORTED_PROBLEMS) this.problemList.push(`${this.target.label}: ${text}`);
  }

  /** Closes every socket (1000: the server ends the subscriptions), forcing those that do not close in time. */
  async close(): Promise<void> {
    this.closing = true;
    const open = this.sockets.filter((socket) => !socket.isClosed);
    const closed = new Promise<void>((resolve) => {
      this.allClosed = resolve;
      if (this.closedCount === this.size) resolve();
    });
    for (const socket of open) socket.close(1000);
    await withinMs(closed, CLOSE_TIMEOUT_MS, 'closing the subscriber sockets').catch(() => {
      for (const socket of this.sockets) socket.terminate();
    });
  }
}

interface WriteRun {
  /** Writes the server acknowledged as stored. */
  sent: number;
  failed: number;
  /** Of the failed, those not sent at all because MAX_UNANSWERED_SECONDS' worth were waiting for an answer. */
  skipped: number;
  /** Failed writes by kind of failure. */
  failures: Map<string, number>;
  seconds: number;
  /** How late the writer sent its latest event against the schedule; large means the rate was not held. */
  maxLagMs: number;
  maxInFlight: number;
  responseMs: number[];
  /** clock() when the last write left. */
  lastSentAt: number;
}

/**
 * Returns what went wrong, or null when the server stored the record. The description names the kind of failure
 * (status, error code and message) without what varies per request, so that failures can be counted by kind.
 */
async function postEvent(target: Target, value: number, signal: AbortSignal): Promise<string | null> {
  const body = JSON.stringify({
    query: MUTATION,
    variables: {
      input: { metricName: METRIC_NAME, metricType: 'GAUGE', value, timestamp: new Date(Math.abs(value)).toISOString() },
    },
  });
  const answer = await postGraphQL<GraphQLResponse['data']>(target.httpUrl, target.apiKey, body, signal, REQUEST_TIMEOUT_MS);
  if (typeof answer === 'string') return answer;
  const { status } = answer;
  const error = answer.errors?.[0];
  if (error !== undefined) return `HTTP ${status} ${String(error.extensions?.code ?? 'error')}: ${String(error.message).slice(0, 200)}`;
  if (status !== 200 || typeof answer.data?.recordSystemMetric?.id !== 'string') return `HTTP ${status}: ${JSON.stringify(answer).slice(0, 200)}`;
  return null;
}

interface GraphQLResponse {
  data?: { recordSystemMetric?: { id?: unknown } | null } | null;
}

/**
 * Sends `count` events on a fixed schedule (open loop: the i-th at start + i/rate, whether or not earlier ones
 * were answered), each one record stamped with the time it actually left. A failed write does not stop it: how
 * writes fare while the server fans out is part of the result, and the schedule must not bend around it.
 */
async function writeAtRate(target: Target, count: number, rate: number, timed: boolean, signal: AbortSignal): Promise<WriteRun> {
  const inFlight = new Set<Promise<void>>();
  const responseMs: number[] = [];
  const failures = new Map<string, number>();
  const fail = (kind: string) => {
    failed += 1;
    failures.set(kind, (failures.get(kind) ?? 0) + 1);
  };
  let failed = 0;
  let skipped = 0;
  let sent = 0;
  let maxLagMs = 0;
  let maxInFlight = 0;
  let lastSentAt = Number.NaN;
  const maxInFlightAllowed = Math.max(16, Math.ceil(rate * MAX_UNANSWERED_SECONDS));
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const due = started + (index * 1000) / rate;
    const wait = due - performance.now();
    if (wait >= 1) await sleep(wait, undefined, { signal });
    maxLagMs = Math.max(maxLagMs, performance.now() - due);
    if (inFlight.size >= maxInFlightAllowed) {
      skipped += 1;
      fail(`not sent: ${maxInFlightAllowed} writes (${MAX_UNANSWERED_SECONDS} s' worth) unanswered`);
      continue;
    }
    const sentAt = clock();
    lastSentAt = sentAt;
    const write = postEvent(target, timed ? sentAt : -sentAt, signal).then((problem) => {
      if (problem !== null) fail(problem);
      else {
        sent += 1;
        responseMs.push(clock() - sentAt);
      }
      inFlight.delete(write);
    });
    inFlight.add(write);
    maxInFlight = Math.max(maxInFlight, inFlight.size);
  }
  await Promise.all(inFlight);
  return { sent, failed, skipped, failures, seconds: (performance.now() - started) / 1000, maxLagMs, maxInFlight, responseMs, lastSentAt };
}

const describeFailures = (failures: Map<string, number>) =>
  [...failures].map(([kind, count]) => `${integer(count)}× ${kind}`).join('; ');

/** Writes untimed probes until every subscriber has received one: only then is every subscription live. */
async function untilRegistered(target: Target, fleet: Fleet, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + REGISTER_TIMEOUT_MS;
  while (fleet.registered < fleet.size) {
    if (performance.now() > deadline) {
      throw new Error(
        `${target.label}: only ${integer(fleet.registered)} of ${integer(fleet.size)} subscribers received a probe ` +
          `within ${REGISTER_TIMEOUT_MS / 1000} s${fleet.problems.length > 0 ? `; ${fleet.problems.join('; ')}` : ''}`,
      );
    }
    const problem = await postEvent(target, -clock(), signal);
    if (problem !== null) throw new Error(`${target.label}: probe write failed: ${problem}`);
    await sleep(PROBE_INTERVAL_MS, undefined, { signal });
  }
}

/** Waits until no message has arrived for QUIET_MS (backlog delivered), or `limitMs` has passed. */
async function untilQuiet(fleet: Fleet, limitMs: number, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (clock() - fleet.lastMessageAt < QUIET_MS && performance.now() < deadline) await sleep(25, undefined, { signal });
}

/** utime + stime of a process in seconds, from /proc (Linux); undefined where that is not available. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * The service process harness.ts started (a child of this process running src/main.ts), for its CPU time.
 * RunningService does not expose its pid; /proc does. Undefined off Linux.
 */
function servicePid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (parent !== process.pid) continue;
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes('src/main.ts')) return Number(entry);
      } catch {
        // The process ended while being looked at.
      }
    }
  } catch {
    // No /proc.
  }
  return undefined;
}

interface BaselineServer {
  httpUrl: string;
  wsUrl: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts bench/fanout-baseline.ts as its own process, as harness.ts starts the service. */
async function startBaseline(): Promise<BaselineServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./fanout-baseline.ts', import.meta.url))],
    {
      // From the project root, so `--import tsx` resolves to the project's tsx.
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      // stdin is its lifeline: it exits when the pipe closes, so a killed benchmark cannot leave it running.
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  if (child.stdin instanceof Socket) child.stdin.unref();
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await withinMs(exited, 5_000, 'stopping the baseline server').catch(() => child.kill('SIGKILL'));
  };
  try {
    const port = await withinMs(
      new Promise<number>((resolve, reject) => {
        if (!child.stdout) return reject(new Error('no stdout'));
        const lines = createInterface({ input: child.stdout });
        lines.once('line', (line) => {
          lines.close();
          const match = /^listening (\d+)$/.exec(line);
          if (match) resolve(Number(match[1]));
          else reject(new Error(`unexpected first line: ${line}`));
        });
        child.once('exit', (code) => reject(new Error(`exited with code ${String(code)} while starting`)));
        child.once('error', reject);
      }),
      30_000,
      'starting the baseline server',
    );
    return { httpUrl: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql`, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw new Error(`baseline server: ${error instanceof Error ? error.message : String(error)}`);
  }
}

interface PhaseMeasurement extends FanoutPhaseResult {
  write: WriteRun;
  connectSeconds: number;
  /** From the last timed write's departure to the last timed delivery. */
  drainSeconds: number;
  messageBytes: number;
  serverCpuPercent: number | undefined;
  benchCpuPercent: number;
  /** All CPUs of the machine, in % of one core (up to 100 × cores); undefined without /proc/stat. */
  machineCpuPercent: number | undefined;
  loopDelayP99Ms: number;
  /** What went wrong (errors, refused writes): the run counts as failed. */
  problems: string[];
  /** Events not written or not delivered because the server fell behind the rate: a result, not an error. */
  shortfall: string[];
}

/** Whether the server took and delivered every write at the rate it was given, rather than piling up a backlog. */
const keptUp = (phase: PhaseMeasurement) =>
  phase.write.skipped === 0 && phase.write.maxLagMs < BACKLOG_MS && phase.drainSeconds * 1000 < BACKLOG_MS;

/** Busy and total CPU time of the whole machine in clock ticks, from /proc/stat (Linux). */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    // cpu user nice system idle iowait irq softirq steal …: everything but idle and iowait is busy.
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

const percentileOf = (sorted: Float64Array, fraction: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN);

async function measure(target: Target, options: FanoutBenchmarkOptions): Promise<PhaseMeasurement> {
  const { subscribers, rate, seconds, signal, print } = options;
  const events = Math.round(rate * seconds);
  const fleet = new Fleet(target, subscribers, events);
  try {
    print(`Fan-out: ${target.label}: connecting ${integer(subscribers)} subscribers…`);
    const connectStarted = performance.now();
    await fleet.connect(signal);
    await untilRegistered(target, fleet, signal);
    const connectSeconds = (performance.now() - connectStarted) / 1000;

    print(`Fan-out: ${target.label}: ${WARMUP_SECONDS} s warm-up, then ${seconds} s timed at ${integer(rate)} events/s…`);
    const warmup = await writeAtRate(target, Math.round(rate * WARMUP_SECONDS), rate, false, signal);
    if (warmup.failed > 0) throw new Error(`${target.label}: warm-up writes failed: ${describeFailures(warmup.failures)}`);
    const drainLimitMs = Math.max(DRAIN_MIN_MS, seconds * 1000);
    await untilQuiet(fleet, drainLimitMs, signal);

    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    const benchCpuBefore = process.cpuUsage();
    const serverCpuBefore = cpuSeconds(target.pid);
    const machineBefore = machineTicks();
    const started = performance.now();
    loopDelay.enable();
    const write = await writeAtRate(target, events, rate, true, signal);
    // Every scheduled event to every subscriber: a failed write is a missing delivery too. Only what was stored
    // can still arrive, so that is what the drain waits for.
    const expected = events * subscribers;
    const deliverable = write.sent * subscribers;
    const drainDeadline = performance.now() + drainLimitMs;
    while (fleet.delivered < deliverable && performance.now() < drainDeadline) await sleep(20, undefined, { signal });
    loopDelay.disable();
    const wallSeconds = (performance.now() - started) / 1000;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const serverCpuAfter = cpuSeconds(target.pid);
    const machineAfter = machineTicks();

    const latencies = fleet.sortedLatencies();
    const problems = fleet.problems;
    const shortfall: string[] = [];
    const refused = write.failed - write.skipped;
    if (refused > 0) {
      problems.push(`${target.label}: ${integer(refused)} of ${integer(events)} writes failed: ${describeFailures(write.failures)}`);
    }
    if (write.skipped > 0) {
      shortfall.push(
        `${target.label}: ${integer(write.skipped)} of ${integer(events)} writes not sent: ` +
          `${MAX_UNANSWERED_SECONDS} s' worth of writes were still unanswered`,
      );
    }
    if (fleet.delivered !== expected) {
      shortfall.push(
        `${target.label}: delivered ${integer(fleet.delivered)} of ${integer(expected)} events ` +
          `(${fixed((100 * fleet.delivered) / expected, 2)}%) within ${fixed(drainLimitMs / 1000, 0)} s of the last write`,
      );
    }
    return {
      label: target.label,
      expected,
      delivered: fleet.delivered,
      p50Ms: percentileOf(latencies, 0.5),
      p99Ms: percentileOf(latencies, 0.99),
      maxMs: latencies.length > 0 ? (latencies[latencies.length - 1] ?? Number.NaN) : Number.NaN,
      write,
      connectSeconds,
      drainSeconds: (fleet.lastMessageAt - write.lastSentAt) / 1000,
      messageBytes: fleet.messageBytes,
      serverCpuPercent:
        serverCpuBefore === undefined || serverCpuAfter === undefined
          ? undefined
          : (100 * (serverCpuAfter - serverCpuBefore)) / wallSeconds,
      benchCpuPercent: (100 * (benchCpu.user + benchCpu.system)) / 1e6 / wallSeconds,
      machineCpuPercent:
        machineBefore === undefined || machineAfter === undefined
          ? undefined
          : (100 * (machineAfter.busy - machineBefore.busy) * availableParallelism()) / (machineAfter.total - machineBefore.total),
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      problems,
      shortfall,
    };
  } finally {
    await fleet.close();
  }
}

/** Soft limit on open files from /proc (Linux), to refuse a subscriber count that cannot be opened. */
function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function runFanoutBenchmark(options: FanoutBenchmarkOptions): Promise<FanoutBenchmarkResult> {
  const { print, subscribers, rate, seconds } = options;
  const limit = openFileLimit();
  // Each subscriber is one descriptor here; leave room for the writer's connections, pipes and files.
  if (limit !== undefined && subscribers + 200 > limit) {
    throw new Error(`--subscribers ${subscribers} needs more open files than this process may have (ulimit -n ${limit})`);
  }

  // The baseline goes first and is stopped before the service is measured, so each has the CPUs to itself.
  const baselineServer = await startBaseline();
  let baseline: PhaseMeasurement;
  try {
    baseline = await measure(
      {
        label: 'bare ws',
        httpUrl: baselineServer.httpUrl,
        wsUrl: baselineServer.wsUrl,
        protocol: 'bare',
        apiKey: options.apiKey,
        pid: baselineServer.pid,
      },
      options,
    );
  } finally {
    await baselineServer.stop();
  }
  const service = await measure(
    {
      label: 'service',
      httpUrl: options.graphqlUrl,
      wsUrl: options.graphqlUrl.replace(/^http/, 'ws'),
      protocol: 'graphql-transport-ws',
      apiKey: options.apiKey,
      pid: servicePid(),
    },
    options,
  );

  // ---- Report ------------------------------------------------------------------------------------------------
  // The baseline falling behind is what this machine can do without the service, not a failure of the run;
  // the service falling behind is a target missed.
  const problems = [...baseline.problems, ...service.problems, ...service.shortfall];
  const p99Ratio = service.p99Ms / baseline.p99Ms;
  const serviceDelivered = service.delivered === service.expected && service.shortfall.length === 0;
  const ms = (value: number) => fixed(value, 1);
  const percent = (value: number | undefined) => (value === undefined ? 'n/a' : `${integer(value)}%`);
  const row = (phase: PhaseMeasurement) => [
    phase.label,
    `${integer(phase.delivered)} / ${integer(phase.expected)}`,
    fixed((100 * phase.delivered) / phase.expected, 2),
    ms(phase.p50Ms),
    ms(phase.p99Ms),
    ms(phase.maxMs),
    integer(phase.messageBytes),
    keptUp(phase) ? 'yes' : 'NO',
    percent(phase.serverCpuPercent),
    percent(phase.benchCpuPercent),
    percent(phase.machineCpuPercent),
  ];
  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  // A baseline that fell behind measures its own backlog, which grows with the run: the ratio then says only
  // that the service, which kept up, did better than the least a WebSocket server can do, and the verdict says so.
  const ratioVerdict = !serviceDelivered
    ? verdict(false)
    : keptUp(baseline)
      ? verdict(p99Ratio <= P99_RATIO_TARGET_NOW)
      : p99Ratio <= P99_RATIO_TARGET_NOW && keptUp(service)
        ? 'met (bare ws fell behind this rate; the service did not)'
        : verdict(false);
  const events = Math.round(rate * seconds);
  print('');
  print(
    `Fan-out: ${integer(subscribers)} subscribers × ${integer(rate)} events/s × ${seconds} s = ${integer(events)} events, ` +
      `${integer(events * subscribers)} deliveries per target`,
  );
  print(
    table(
      ['target', 'delivered / expected', '%', 'p50 ms', 'p99 ms', 'max ms', 'msg bytes', 'kept up', 'server CPU', 'bench CPU', 'machine CPU'],
      [row(baseline), row(service)],
    ),
  );
  print('');
  print(`p99 service/bare ws: ${fixed(p99Ratio, p99Ratio < 1 ? 2 : 1)}×`);
  print(`  target now   100% delivered, p99 ≤ ${P99_RATIO_TARGET_NOW}× bare ws  ${ratioVerdict}`);
  print(`  goal later   100% delivered, p99 ≤ ${P99_GOAL_LATER_MS} ms        ${verdict(serviceDelivered && service.p99Ms <= P99_GOAL_LATER_MS)}`);
  if (!keptUp(baseline)) {
    print(
      `note: bare ws fell behind ${integer(rate)} events/s (a write went out ${ms(baseline.write.maxLagMs)} ms late, the last ` +
        `delivery came ${fixed(baseline.drainSeconds, 2)} s after the last write): one write per message and socket, ` +
        `${integer(rate * subscribers)} a second, did not fit in this machine's CPUs (machine CPU).`,
    );
    for (const line of baseline.shortfall) print(`      ${line}`);
  }
  print('');
  const writes = (phase: PhaseMeasurement) => {
    const response = Float64Array.from(phase.write.responseMs).sort();
    return [
      `${phase.label.padEnd(8)}  writes: ${integer(phase.write.sent)} stored, ${integer(phase.write.failed)} failed ` +
        `(${integer(phase.write.skipped)} of them not sent: ${MAX_UNANSWERED_SECONDS} s' worth unanswered), last answer after ${fixed(phase.write.seconds, 2)} s, ` +
        `at most ${ms(phase.write.maxLagMs)} ms behind schedule, ≤${phase.write.maxInFlight} in flight; ` +
        `response p50 ${ms(percentileOf(response, 0.5))} / p99 ${ms(percentileOf(response, 0.99))} ms`,
      `          last delivery ${fixed(phase.drainSeconds, 2)} s after the last write; ${integer(subscribers)} subscribed in ` +
        `${fixed(phase.connectSeconds, 1)} s; this process's event-loop delay p99 ${ms(phase.loopDelayP99Ms)} ms`,
    ].join('\n');
  };
  print(
    [
      'latency   value = send time (performance.timeOrigin + now()) of the write; receive time − value at each',
      '          subscriber, all in this process. Writes: one recordSystemMetric (single record) per HTTP POST, open',
      `          loop on a fixed schedule; ${WARMUP_SECONDS} s untimed warm-up at the same rate before each timed run.`,
      `service   ${SUBSCRIPTION}`,
      '          over graphql-transport-ws, one subscription per raw ws socket, on the one service instance.',
      'bare ws   bench/fanout-baseline.ts, its own process: a plain ws WebSocketServer that answers the same POST and',
      '          writes to every socket the next message graphql-ws would send for that record (same bytes).',
      `kept up   every write sent, none ≥${BACKLOG_MS / 1000} s late, and the last delivery <${BACKLOG_MS / 1000} s after the last write.`,
      'CPU       % of one core over the timed run and drain: server = service or baseline process; bench = this process',
      `          (writer and all subscribers); machine = all ${availableParallelism()} CPUs, whoever used them (PostgreSQL, other work).`,
      writes(baseline),
      writes(service),
    ].join('\n'),
  );
  const summary = ({ label, expected, delivered, p50Ms, p99Ms, maxMs }: PhaseMeasurement): FanoutPhaseResult => ({
    label,
    expected,
    delivered,
    p50Ms,
    p99Ms,
    maxMs,
  });
  return { baseline: summary(baseline), service: summary(service), p99Ratio, problems };
}
