import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { cli, keptMonth, migrateAndLoad } from './analytics.js';
import { fixed, integer, percentile, table } from './format.js';
import { createScratchDatabase, postGraphQL, startService, type RunningService, type ScratchDatabase } from './harness.js';

/**
 * Dashboards over the analytics benchmark's month of data (its `load`, rollups rebuilt): a 12-widget dashboard's
 * dashboardData timed over GraphQL (result cache off, so every widget is read from the rollups each time; target
 * p95 ≤ 150 ms), then 200 live subscribers of that dashboard while activities are written one at a time: each
 * refresh must be one computation delivered to all 200 (every subscriber's copy carries the same computedAt).
 */

export interface DashboardsBenchmarkOptions {
  adminUrl: string;
  performanceRows: number;
  activityRows: number;
  systemRows: number;
  runs: number;
  /** The analytics benchmark's kept database (--analytics-keep): used as it is when it holds the loaded month. */
  keep?: string | undefined;
  subscribers: number;
  refreshes: number;
  signal: AbortSignal;
  print: (line: string) => void;
}

/** Twelve panels of the shape a team dashboard has: cards, trends, breakdowns, a heatmap, alerts and a feed. */
export const TWELVE_WIDGETS = [
  { type: 'METRIC_CARD', title: 'Average response time', query: { source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'avg', field: 'responseTimeMs' }, options: { unit: 'ms' } },
  { type: 'METRIC_CARD', title: 'Error rate', query: { source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'errorRate' } },
  { type: 'METRIC_CARD', title: 'Active users', query: { source: 'ACTIVITY', aggregation: 'uniqueUsers' } },
  { type: 'METRIC_CARD', title: 'Activities', query: { source: 'ACTIVITY', aggregation: 'count' } },
  { type: 'TIME_SERIES', title: 'p95 response time', query: { source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'p95', field: 'responseTimeMs' } },
  { type: 'TIME_SERIES', title: 'CPU per host', query: { source: 'SYSTEM', metricNames: ['cpu_usage'], aggregation: 'avg', groupByTag: 'host' } },
  { type: 'BAR_CHART', title: 'Busiest endpoints', query: { source: 'PERFORMANCE', aggregation: 'count', groupByTag: 'endpoint', topN: 10 } },
  { type: 'PIE_CHART', title: 'Activities by type', query: { source: 'ACTIVITY', aggregation: 'count' } },
  { type: 'TABLE', title: 'Slowest endpoints', query: { source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'p95', field: 'responseTimeMs', groupByTag: 'endpoint', topN: 20 } },
  { type: 'HEATMAP', title: 'Latency distribution', query: { source: 'PERFORMANCE', metricNames: ['http_request'], interval: 'HOUR' } },
  { type: 'ALERT_LIST', title: 'Active alerts' },
  { type: 'ACTIVITY_FEED', title: 'Latest activity', query: { topN: 20 } },
];

async function gql<Data>(service: RunningService, query: string, variables: Record<string, unknown>, signal: AbortSignal): Promise<Data> {
  const result = await postGraphQL<Data>(service.graphqlUrl, service.apiKey, JSON.stringify({ query, variables }), signal, 120_000);
  if (typeof result === 'string') throw new Error(result);
  if (result.errors?.length) throw new Error(`GraphQL errors ${JSON.stringify(result.errors)}`);
  return result.data as Data;
}

export async function runDashboardsBenchmark(options: DashboardsBenchmarkOptions): Promise<{ problems: string[] }> {
  const { print, signal } = options;
  const problems: string[] = [];
  let scratch: ScratchDatabase | undefined;
  let service: RunningService | undefined;
  const clients: Client[] = [];
  try {
    const kept = options.keep ? await keptMonth(options.adminUrl, options.keep) : undefined;
    if (kept) {
      scratch = kept.database;
      print(`dashboards: reusing database ${options.keep} (the analytics month, rollups built)`);
    } else {
      scratch = await createScratchDatabase(options.adminUrl);
      print(`dashboards: loading the analytics data set (${integer(options.performanceRows)} performance metrics, ${integer(options.activityRows)} activities, ${integer(options.systemRows)} system metrics; untimed)…`);
      const { start, end } = await migrateAndLoad(scratch.url, options);
      await cli(scratch.url, ['rebuild-rollups', '--from', new Date(start).toISOString(), '--to', new Date(end).toISOString()]);
    }

    // Result cache off: each run reads every widget from the rollups; the live update interval at its minimum.
    service = await startService(scratch.url, { env: { INSIGHTS_ANALYTICS_CACHE: 'false', INSIGHTS_REAL_TIME_UPDATE_INTERVAL: '1' } });
    const created = await gql<{ createDashboard: { id: string } }>(
      service,
      `mutation($input: DashboardInput!) { createDashboard(input: $input) { id } }`,
      { input: { name: 'Bench: team overview', refreshInterval: 3600, timeRange: { relative: '7d' }, widgets: TWELVE_WIDGETS } },
      signal,
    );
    const id = created.createDashboard.id;
    const dataQuery = `query($id: ID!) { dashboardData(id: $id) { computedAt widgets { widgetId error { code message } data { __typename } } } }`;
    const first = await gql<{ dashboardData: { widgets: { widgetId: string; error: { message: string } | null }[] } }>(service, dataQuery, { id }, signal);
    for (const widget of first.dashboardData.widgets) if (widget.error) problems.push(`widget ${widget.widgetId} failed: ${widget.error.message}`);
    // Where one computation's time goes: every analytics read of the widgets, with the path that served it.
    const traced = await postGraphQL<unknown>(service.graphqlUrl, service.apiKey, JSON.stringify({ query: dataQuery, variables: { id } }), signal, 120_000);
    const reads = typeof traced === 'string' ? [] : ((traced as { extensions?: { analytics?: { family: string; path: string; ms: number }[] } }).extensions?.analytics ?? []);
    const slowest = [...reads].sort((a, b) => b.ms - a.ms).slice(0, 5);
    print(`  one dashboardData: ${reads.length} analytics reads (${Object.entries(reads.reduce<Record<string, number>>((paths, read) => ({ ...paths, [read.path]: (paths[read.path] ?? 0) + 1 }), {})).map(([path, n]) => `${n} ${path}`).join(', ')}); slowest: ${slowest.map((read) => `${read.family} ${read.path} ${fixed(read.ms, 0)} ms`).join(', ')}`);
    const times: number[] = [];
    for (let run = 0; run < options.runs; run += 1) {
      const started = performance.now();
      await gql(service, dataQuery, { id }, signal);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const p95 = percentile(times, 0.95);
    print('');
    print(table(['read', 'runs', 'p50 ms', 'p95 ms', 'target'], [['dashboardData, 12 widgets, 7 days (cache off)', String(options.runs), fixed(percentile(times, 0.5), 1), fixed(p95, 1), 'p95 ≤ 150']]));
    if (p95 > 150) problems.push(`dashboardData p95 ${fixed(p95, 1)} ms above 150 ms`);

    // Live: N subscribers of one dashboard, 4 per socket; each write of an activity makes one refresh.
    const perSocket = 4;
    const received: { computedAt: string }[][] = [];
    const subscription = `subscription($id: ID!) { dashboardUpdated(id: $id) { computedAt widgets { widgetId } } }`;
    for (let socket = 0; socket < Math.ceil(options.subscribers / perSocket); socket += 1) {
      const client = createClient({ url: service.graphqlUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${service.apiKey}` } });
      clients.push(client);
      for (let n = 0; n < perSocket && received.length < options.subscribers; n += 1) {
        const events: { computedAt: string }[] = [];
        received.push(events);
        client.subscribe<{ dashboardUpdated: { computedAt: string } }>(
          { query: subscription, variables: { id } },
          { next: (result) => result.data && events.push({ computedAt: result.data.dashboardUpdated.computedAt }), error: () => undefined, complete: () => undefined },
        );
      }
    }
    const waitAll = async (count: number) => {
      const deadline = Date.now() + 30_000;
      while (received.some((events) => events.length < count)) {
        if (Date.now() > deadline) throw new Error(`subscribers did not all receive ${count} results within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    await waitAll(1);
    for (let refresh = 1; refresh <= options.refreshes; refresh += 1) {
      await gql(service, `mutation($input: UserActivityInput!) { recordUserActivity(input: $input) { id } }`, { input: { userId: `bench-live-${refresh}`, activityType: 'login' } }, signal);
      await waitAll(refresh + 1);
    }
    // Settle: nothing more is sent when nothing changes.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const deliveries = received.reduce((sum, events) => sum + events.length, 0);
    const computations = new Set(received.flatMap((events) => events.map((event) => event.computedAt))).size;
    const sent = options.refreshes + 1;
    print('');
    print(
      table(
        ['subscribers', 'results expected (first + writes)', 'distinct computations seen', 'deliveries', 'deliveries per computation'],
        [[String(options.subscribers), String(sent), String(computations), integer(deliveries), fixed(deliveries / computations, 1)]],
      ),
    );
    if (computations !== sent) problems.push(`${computations} computations for ${sent} results: not one computation per refresh`);
    if (deliveries !== sent * options.subscribers) problems.push(`${deliveries} deliveries, expected ${sent * options.subscribers}`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    await Promise.all(clients.map((client) => client.dispose()));
    await service?.stop().catch(() => undefined);
    await scratch?.drop().catch(() => undefined);
  }
  return { problems };
}
