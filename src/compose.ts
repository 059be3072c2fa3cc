import pino, { type Logger } from 'pino';
import { LiveHub } from './core/bus/liveHub.js';
import { createEventBus, type EventBus } from './core/bus/pubsub.js';
import type { Config } from './core/config.js';
import { openDatabase, type Database } from './core/db/database.js';
import { migrate } from './core/db/migrate.js';
import type { JobDefinition } from './core/jobs.js';
import type { Plugin } from '@envelop/core';
import type { CoreServices, HttpRoute, ModuleParts, ModuleServices, MonitoringCheck, Services, TransportStats } from './core/module.js';
import { MODULES } from './modules/index.js';

// The composition root: configuration → core services (database, pub/sub, live hub) → every module, in the
// order of src/modules/index.ts. The server (app.ts) and the command line (cli/) are built here alike, so a
// command's writes reach other instances through Redis exactly as the service's do.

export interface CompositionOptions {
  mode: 'server' | 'cli';
  log?: Logger;
  /** Prefix for pub/sub topics, so test apps sharing one Redis do not hear each other. */
  topicPrefix?: string;
  /** Apply pending migrations first (false for read-only commands). @default true */
  migrate?: boolean;
}

export interface Composition {
  services: Services;
  /** Every module's sections of check-monitoring. */
  checks: MonitoringCheck[];
  /** Every module's HTTP routes. */
  routes: HttpRoute[];
  /** Every module's envelop plugins for GraphQL operations. */
  graphqlPlugins: Plugin[];
  /** Every module's compiled mutation fields (see ModuleParts.compiledMutations). */
  compiledMutations: ReadonlySet<string>;
  jobs: JobDefinition[];
  /** Server mode: runs the modules' start hooks and subscribes the live hub. */
  start(): Promise<void>;
  /** Server mode: the server listens; modules start their timers. */
  listening(transport: TransportStats): void;
  /** Beginning of shutdown: modules stop starting new work (no new job ticks); resolves when theirs is done. */
  drain(deadline: number): Promise<void>;
  /** Once requests are done: module stop hooks (reverse order), and live streams completed. */
  stop(): Promise<void>;
  /** End: stop() if not done, then pub/sub and the database close. */
  close(): Promise<void>;
}

/**
 * The services of modules set up so far. Reading one that no module has provided yet is a wiring mistake (a
 * module listed before the one it needs): it fails at once with a message saying so, rather than as undefined.
 */
function servicesSoFar(services: Record<string, unknown>, module: string): Services {
  return new Proxy(services, {
    get(target, property) {
      if (typeof property === 'string' && !(property in target)) {
        throw new Error(`module ${module} uses service "${property}", which no module listed before it in src/modules/index.ts provides`);
      }
      return Reflect.get(target, property);
    },
  }) as unknown as Services;
}

export async function compose(config: Config, options: CompositionOptions): Promise<Composition> {
  const log = options.log ?? pino({ level: config.logLevel, base: { service: 'insights' } });
  const db: Database = await openDatabase(config.database, log);
  let bus: EventBus | undefined;
  const parts: { name: string; parts: ModuleParts }[] = [];
  try {
    if (options.migrate !== false) await migrate(db, log);
    bus = createEventBus({ redisUrl: config.redisUrl, prefix: options.topicPrefix, log });
    const live = new LiveHub(bus, log, config.realtime.subscriptionBuffer);
    const core: CoreServices = { config, log, db, bus, live, mode: options.mode };
    const services: Record<string, unknown> = { ...core };
    const jobs: JobDefinition[] = [];
    for (const module of MODULES) {
      const contributed = await module.setup({ services: servicesSoFar(services, module.name), jobs });
      parts.push({ name: module.name, parts: contributed });
      for (const [name, service] of Object.entries(contributed.services ?? {})) {
        if (name in services) throw new Error(`module ${module.name} provides service "${name}", which another module already provides`);
        services[name] = service;
      }
      jobs.push(...(contributed.jobs ?? []));
    }
    const all = services as unknown as Services & ModuleServices;
    const openBus = bus;
    let drained: Promise<unknown> | undefined;
    let stopped: Promise<void> | undefined;
    const composition: Composition = {
      services: all,
      checks: parts.flatMap(({ parts: contributed }) => contributed.checks ?? []),
      routes: parts.flatMap(({ parts: contributed }) => contributed.routes ?? []),
      graphqlPlugins: parts.flatMap(({ parts: contributed }) => contributed.graphqlPlugins ?? []),
      compiledMutations: new Set(parts.flatMap(({ parts: contributed }) => contributed.compiledMutations ?? [])),
      jobs,
      async start() {
        for (const { parts: contributed } of parts) await contributed.start?.();
        await live.start();
      },
      listening(transport) {
        for (const { parts: contributed } of parts) contributed.listening?.(transport);
      },
      drain(deadline) {
        drained ??= Promise.all(parts.map(({ parts: contributed }) => contributed.drain?.(deadline)));
        return drained.then(() => undefined);
      },
      stop() {
        stopped ??= (async () => {
          for (const { name, parts: contributed } of [...parts].reverse()) {
            try {
              await contributed.stop?.();
            } catch (error) {
              log.error({ err: error, module: name }, 'module failed to stop cleanly');
            }
          }
          live.close();
        })();
        return stopped;
      },
      async close() {
        await composition.drain(Date.now());
        await composition.stop();
        await openBus.close();
        await db.close();
      },
    };
    return composition;
  } catch (error) {
    for (const { parts: contributed } of [...parts].reverse()) await Promise.resolve(contributed.stop?.()).catch(() => undefined);
    await bus?.close();
    await db.close();
    throw error;
  }
}
