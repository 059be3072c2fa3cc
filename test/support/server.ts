import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import fs from 'node:fs/promises';
import { print } from 'graphql';
import { buildApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig, type Environment } from '../../src/config.js';
import { createScratchDatabase, createScratchDirectory } from './databases.js';
import { pgliteTemplate } from './pgliteTemplate.js';

export type Backend = 'postgres' | 'pglite';
export const BACKENDS: Backend[] = ['postgres', 'pglite'];

export const ADMIN_KEY = 'test-admin-key-0123456789abcdefghij';

export interface GraphQLResponse<Data> {
  status: number;
  data?: Data | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface TestServer {
  app: App;
  url: string;
  /** The PostgreSQL database this server uses, for a second instance to share. */
  databaseUrl: string | undefined;
  backend: Backend;
  /** Sends an operation over real HTTP with the admin key (or `key`, or none when key is null). */
  request<Data, Variables>(
    document: TypedDocumentNode<Data, Variables> | string,
    variables?: Variables,
    options?: { key?: string | null },
  ): Promise<GraphQLResponse<Data>>;
  /** Like request, but fails the test on any GraphQL error. */
  query<Data, Variables>(document: TypedDocumentNode<Data, Variables>, variables?: Variables): Promise<Data>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its database or data directory. */
  destroy(): Promise<void>;
}

export async function startTestServer(
  backend: Backend,
  options: {
    label: string;
    env?: Environment;
    dataDir?: string;
    /** Share another server's PostgreSQL database (not dropped by this server). */
    databaseUrl?: string;
    appOptions?: AppOptions;
  } = { label: 'test' },
): Promise<TestServer> {
  const scratchDb = backend === 'postgres' && !options.databaseUrl ? await createScratchDatabase(options.label) : undefined;
  const scratchDir = backend === 'pglite' && !options.dataDir ? await createScratchDirectory(options.label) : undefined;
  if (scratchDir) await fs.cp(await pgliteTemplate(), scratchDir.dir, { recursive: true });
  const env: Environment = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    MONITORING_ENABLED: 'false',
    INSIGHTS_ADMIN_KEY: ADMIN_KEY,
    DATABASE_URL: options.databaseUrl ?? scratchDb?.url,
    INSIGHTS_DATA_DIR: options.dataDir ?? scratchDir?.dir,
    ...options.env,
  };
  let app = buildApp(loadConfig(env), options.appOptions);
  let { url } = await app.start();

  const request: TestServer['request'] = async (document, variables, requestOptions) => {
    const key = requestOptions?.key === undefined ? ADMIN_KEY : requestOptions.key;
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
    });
    const body = (await response.json()) as GraphQLResponse<never>;
    return { ...body, status: response.status };
  };

  const server: TestServer = {
    get app() {
      return app;
    },
    get url() {
      return url;
    },
    databaseUrl: options.databaseUrl ?? scratchDb?.url,
    backend,
    request,
    async query(document, variables) {
      const result = await request(document, variables);
      if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors, null, 2)}`);
      return result.data as never;
    },
    async restart() {
      await app.stop();
      app = buildApp(loadConfig(env), options.appOptions);
      ({ url } = await app.start());
    },
    stop: () => app.stop(),
    async destroy() {
      await app.stop();
      await scratchDb?.drop();
      await scratchDir?.remove();
    },
  };
  return server;
}
