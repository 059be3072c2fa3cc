import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from '@envelop/core';
import type { Logger } from 'pino';
import type { ApiKeyScope, Principal } from './auth.js';
import type { LiveHub } from './bus/liveHub.js';
import type { EventBus } from './bus/pubsub.js';
import type { CliCommand } from './cli.js';
import type { Config, ConfigSection } from './config.js';
import type { Database } from './db/database.js';
import type { JobDefinition } from './jobs.js';

// How a domain plugs into the service. A module is a folder under src/modules with an index.ts exporting an
// AppModule, registered by one line in src/modules/index.ts. It owns its service (the actions, audit
// included), its queries, its Pothos schema file, its jobs, its topics and its commands; the composition root
// (src/compose.ts) builds every module the same way for the server and for the command line.

/** What the core provides to every module. */
export interface CoreServices {
  config: Config;
  log: Logger;
  db: Database;
  bus: EventBus;
  live: LiveHub;
  /** `server` when serving HTTP, `cli` for operator commands (no timers, no HTTP). */
  mode: 'server' | 'cli';
}

/**
 * What modules add to the shared services: each module augments this interface with what it provides, e.g.
 * `declare module '../../core/module.js' { interface ModuleServices { ingestor: Ingestor } }`. Resolvers
 * reach them on their context (`ctx.ingestor`), commands on their runtime.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleServices {}

export type Services = CoreServices & ModuleServices;

/** One part of `check-monitoring`'s report. */
export interface MonitoringSection {
  /** Merged into the JSON report (`--json`), e.g. `{ jobs: [...] }`. */
  fields: Record<string, unknown>;
  /** Printed in the human report. */
  text: string;
  /** Each one makes the check unhealthy (exit code 1). */
  problems: string[];
  /** Said but not unhealthy: e.g. a notification channel that is not configured. */
  notes?: string[];
}

export type MonitoringCheck = (services: Services, now: Date) => Promise<MonitoringSection>;

/** What an HTTP route of a module gets besides the request: admission through the front door, and the body. */
export interface HttpRouteContext {
  requestId: string;
  /**
   * Lets the request in with a key holding `scope` (`Authorization: Bearer <key>`, or Basic with the key as
   * password, which browsers send after their sign-in prompt). Resolves to the principal, or to null once a
   * refusal (401 asking a browser to sign in, 403, 429) has been sent.
   */
  admit(scope: ApiKeyScope): Promise<Principal | null>;
  /** The request body, refused with 413 (and null) past `limitBytes`. */
  body(limitBytes: number): Promise<Buffer | null>;
  /** Sends a GraphQL-shaped error response with the code's HTTP status (BAD_USER_INPUT, NOT_FOUND…). */
  fail(code: 'BAD_USER_INPUT' | 'NOT_FOUND' | 'FORBIDDEN' | 'UNAVAILABLE' | 'PAYLOAD_TOO_LARGE', message: string, extensions?: Record<string, unknown>): void;
}

/** A route a module serves beside /graphql (downloads, exports, scrapes, foreign protocols). */
export interface HttpRoute {
  method: 'GET' | 'POST';
  /** The path, or a pattern over it (without the query string). */
  path: string | RegExp;
  /** Long responses (streams) are not waited for by shutdown's in-flight drain when this is true. */
  streaming?: boolean;
  handle(req: IncomingMessage, res: ServerResponse, context: HttpRouteContext): Promise<void>;
}

/** What the serving instance's transport tells modules once it listens (live counts, read when needed). */
export interface TransportStats {
  /** Open GraphQL WebSocket connections. */
  webSockets(): number;
  /** Operations running on them (subscriptions, and queries or mutations sent over a socket). */
  webSocketOperations(): number;
}

/** What a module's setup hands back to the composition root. */
export interface ModuleParts {
  /** Its services, added to the shared set (declare their types in ModuleServices). */
  services?: Partial<ModuleServices>;
  /** Jobs for the scheduler (the jobs module, registered last, schedules every job registered before it). */
  jobs?: JobDefinition[];
  /** Sections of `check-monitoring`. */
  checks?: MonitoringCheck[];
  /** HTTP routes beside /graphql (server mode). */
  routes?: HttpRoute[];
  /** envelop plugins added to every GraphQL operation, over HTTP, SSE and WebSocket alike (server mode). */
  graphqlPlugins?: Plugin[];
  /**
   * Mutation fields on a hot path whose operations are compiled to JavaScript (graphql-jit) instead of being
   * interpreted by graphql-js: an operation is compiled when every root field it selects is listed here.
   */
  compiledMutations?: readonly string[];
  /** Server mode: runs once the database is migrated and before the server listens (seed defaults, warm caches). */
  start?(): Promise<void> | void;
  /** Server mode: runs once the server listens (the scheduler arms its timers here, once all it writes through is up). */
  listening?(transport: TransportStats): void;
  /** Beginning of shutdown: stop starting new work (no new job ticks); resolve when the work in progress is done. */
  drain?(deadline: number): Promise<void>;
  /** End of shutdown, once requests are done: in reverse registration order, before pub/sub and the database close. */
  stop?(): Promise<void> | void;
}

export interface ModuleContext {
  /** The core's services and those of the modules registered before this one. */
  services: Services;
  /** The jobs registered so far (for the jobs module, registered last). */
  jobs: readonly JobDefinition[];
}

export interface AppModule {
  /** Folder name, used in logs and errors. */
  readonly name: string;
  /** The environment variables the module reads, validated with all the others at start-up. */
  readonly config?: ConfigSection;
  /** Operator commands (`npm run insights -- <name>`); they run on the services this module's setup provides. */
  readonly commands?: readonly CliCommand<Services>[];
  setup(context: ModuleContext): ModuleParts | Promise<ModuleParts>;
}

export function defineModule(module: AppModule): AppModule {
  return module;
}
