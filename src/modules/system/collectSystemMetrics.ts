import os from 'node:os';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import si, { type Systeminformation } from 'systeminformation';
import type { Ingestor } from '../records/ingestor.js';
import type { JsonObject } from '../../core/json.js';
import type { Schedule } from '../../core/schedule.js';
import type { JobDefinition } from '../../core/jobs.js';

/** The shape the ingest path validates (same as a SystemMetricInput sent to recordSystemMetrics). */
export interface CollectedMetric {
  metricName: string;
  metricType: 'GAUGE';
  value: number;
  unit: string | null;
  tags: Record<string, string>;
  dimensions: JsonObject;
  timestamp: Date;
}

export interface HostCollectorOptions {
  host: string;
  environment?: string;
  /**
   * Network rates need two byte counters some time apart. Each collection keeps its counters for the next;
   * when there are none yet (first run of a process), it samples twice this far apart.
   * @default 1000
   */
  sampleGapMs?: number;
}

/** Mounts beyond this many are left out, so a host with hundreds of bind mounts cannot flood the table. */
const MAX_MOUNTS = 20;
const round = (value: number, digits = 2) => Number(value.toFixed(digits));
const percent = (value: number) => round(Math.min(100, Math.max(0, value)));

/**
 * Reads the machine and this process. Each source is read on its own: one that fails (a mount that hangs, a
 * platform without load averages) is reported, the others are still written.
 */
export class HostCollector {
  private network: { rx: number; tx: number; at: number; interfaces: string[] } | null = null;
  private readonly loopDelay: IntervalHistogram;
  private cpuInfo: Promise<Systeminformation.CpuData> | null = null;

  constructor(private readonly options: HostCollectorOptions) {
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
  }

  get host(): string {
    return this.options.host;
  }

  /** Takes baseline samples, so the first collection measures CPU and network since now rather than since boot. */
  async prime(): Promise<void> {
    await Promise.all([si.currentLoad(), this.readNetwork().then((sample) => (this.network = sample))]);
  }

  dispose(): void {
    this.loopDelay.disable();
  }

  async collect(at: Date, signal?: AbortSignal): Promise<{ metrics: CollectedMetric[]; failures: string[] }> {
    const base: Record<string, string> = { host: this.options.host };
    if (this.options.environment) base.environment = this.options.environment;
    const metric = (metricName: string, value: number, unit: string | null, dimensions: JsonObject, tags = base): CollectedMetric => ({
      metricName,
      metricType: 'GAUGE',
      value,
      unit,
      tags,
      dimensions,
      timestamp: at,
    });

    const sources: [string, () => Promise<CollectedMetric[]>][] = [
      [
        'cpu_usage',
        async () => {
          const [load, cpu] = await Promise.all([si.currentLoad(), this.cpuDetails()]);
          if (!Number.isFinite(load.currentLoad)) throw new Error('no CPU load reading');
          return [
            metric('cpu_usage', percent(load.currentLoad), 'percent', {
              cores: cpu.cores,
              physicalCores: cpu.physicalCores,
              frequencyGHz: cpu.speed,
              model: `${cpu.manufacturer} ${cpu.brand}`.trim(),
              userPercent: percent(load.currentLoadUser),
              systemPercent: percent(load.currentLoadSystem),
            }),
          ];
        },
      ],
      [
        'memory_usage',
        async () => {
          const memory = await si.mem();
          if (!(memory.total > 0)) throw new Error('no memory total');
          // `active` leaves out reclaimable page cache: what the machine really has in use.
          return [
            metric('memory_usage', percent((memory.active / memory.total) * 100), 'percent', {
              totalBytes: memory.total,
              usedBytes: memory.active,
              availableBytes: memory.available,
            }),
          ];
        },
      ],
      [
        'disk_usage',
        async () => {
          const seen = new Set<string>();
          const disks = (await si.fsSize())
            .filter((disk) => disk.size > 0 && disk.mount && !seen.has(disk.mount) && seen.add(disk.mount))
            .sort((a, b) => a.mount.localeCompare(b.mount))
            .slice(0, MAX_MOUNTS);
          if (disks.length === 0) throw new Error('no mounted file systems found');
          return disks.map((disk) =>
            metric(
              'disk_usage',
              percent(disk.use),
              'percent',
              { fs: disk.fs, type: disk.type, sizeBytes: disk.size, usedBytes: disk.used, availableBytes: disk.available },
              { ...base, mount: disk.mount },
            ),
          );
        },
      ],
      [
        'load_average_1m',
        async () => {
          const [one, five, fifteen] = os.loadavg() as [number, number, number];
          return [metric('load_average_1m', round(one), null, { cores: os.availableParallelism(), load5m: round(five), load15m: round(fifteen) })];
        },
      ],
      [
        'network',
        async () => {
          let previous = this.network;
          let current = await this.readNetwork();
          if (!previous || current.rx < previous.rx || current.tx < previous.tx || current.at <= previous.at) {
            // No usable baseline (first run, or counters reset): measure over a short gap instead.
            previous = current;
            await sleep(this.options.sampleGapMs ?? 1000, undefined, { signal });
            current = await this.readNetwork();
          }
          this.network = current;
          const seconds = (current.at - previous.at) / 1000;
          const dimensions = { intervalSeconds: round(seconds, 3), interfaces: current.interfaces };
          return [
            metric('network_rx_bytes_per_sec', round((current.rx - previous.rx) / seconds), 'bytes/s', dimensions),
            metric('network_tx_bytes_per_sec', round((current.tx - previous.tx) / seconds), 'bytes/s', dimensions),
          ];
        },
      ],
      [
        'process_rss_bytes',
        async () => {
          const memory = process.memoryUsage();
          return [metric('process_rss_bytes', memory.rss, 'bytes', { pid: process.pid, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal })];
        },
      ],
      [
        'event_loop_lag_ms',
        async () => {
          const histogram = this.loopDelay;
          // Mean delay since the previous collection; p99 and max show the spikes the mean hides.
          if (histogram.count > 0) {
            const lag = metric('event_loop_lag_ms', round(histogram.mean / 1e6, 3), 'ms', {
              p99Ms: round(histogram.percentile(99) / 1e6, 3),
              maxMs: round(histogram.max / 1e6, 3),
              samples: histogram.count,
            });
            histogram.reset();
            return [lag];
          }
          // Too soon after start for the histogram: measure one turn of the loop directly.
          const started = performance.now();
          await new Promise((resolve) => setImmediate(resolve));
          return [metric('event_loop_lag_ms', round(performance.now() - started, 3), 'ms', { samples: 1 })];
        },
      ],
    ];

    const results = await Promise.allSettled(sources.map(([, read]) => read()));
    const metrics: CollectedMetric[] = [];
    const failures: string[] = [];
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') metrics.push(...result.value);
      else failures.push(`${sources[index]?.[0]}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`);
    });
    return { metrics, failures };
  }

  /** Static CPU facts, read once (a failed read is retried next time rather than cached). */
  private cpuDetails(): Promise<Systeminformation.CpuData> {
    this.cpuInfo ??= si.cpu().catch((error: unknown) => {
      this.cpuInfo = null;
      throw error;
    });
    return this.cpuInfo;
  }

  private async readNetwork() {
    // Loopback traffic is the machine talking to itself (here: to its own database), not network load.
    const stats = (await si.networkStats('*')).filter((item) => item.iface !== 'lo');
    return {
      rx: stats.reduce((sum, item) => sum + (item.rx_bytes || 0), 0),
      tx: stats.reduce((sum, item) => sum + (item.tx_bytes || 0), 0),
      at: performance.now(),
      interfaces: stats.map((item) => item.iface),
    };
  }
}

/**
 * Writes this host's metrics, stamped with the tick (not the clock), through the ingest path, so
 * metricRecorded and currentSystemMetricsUpdated subscribers receive them as soon as they are committed.
 */
export function collectSystemMetricsJob(deps: { schedule: Schedule; collector: HostCollector; ingestor: Ingestor }): JobDefinition {
  return {
    name: 'collect-system-metrics',
    description:
      'Writes this host\'s CPU, memory, disk (per mount), load, network and own process metrics, tagged with the host. Runs once per host per tick.',
    schedule: deps.schedule,
    scope: 'host',
    manualAnchor: 'now',
    prepare: () => deps.collector.prime(),
    dispose: () => deps.collector.dispose(),
    async run({ fireTime, signal }) {
      const { metrics, failures } = await deps.collector.collect(fireTime, signal);
      signal.throwIfAborted();
      if (metrics.length > 0) {
        await deps.ingestor.ingest({ lists: [{ family: 'systemMetrics', items: metrics, path: 'collect-system-metrics', indexed: true }] });
      }
      if (failures.length > 0) {
        throw new Error(`wrote ${metrics.length} metrics, but could not read ${failures.join('; ')}`);
      }
      return { host: deps.collector.host, metrics: metrics.length };
    },
  };
}
