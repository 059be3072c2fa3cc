import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';

/** `insights/client` as a service would use it: built, imported by package name, typed, sending to a real server. */

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
// Inside the project, so that `insights/client` resolves through package.json "exports" (a package's own name).
const consumerDir = `${root}dist-client-consumer`;

describe('the insights/client package', () => {
  let server: TestServer;
  beforeAll(async () => {
    await run(process.execPath, ['scripts/build-client.mjs'], { cwd: root });
    await fs.mkdir(consumerDir, { recursive: true });
    server = await startTestServer('postgres', { label: 'client_pkg' });
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
    await fs.rm(consumerDir, { recursive: true, force: true });
  });

  it('is importable by name from plain Node.js and reports to a real server', async () => {
    const script = `
      import { createInsightsClient } from 'insights/client';
      const client = createInsightsClient({ url: process.env.URL, apiKey: process.env.KEY });
      for (let i = 0; i < 5; i++) client.recordSystemMetric({ metricName: 'client_package', metricType: 'GAUGE', value: i });
      client.track('PROJECT_CREATE', { userId: 'pkg-user', metadata: { projectId: 'p-9' } });
      await client.close();
      console.log(JSON.stringify(client.stats()));
    `;
    await fs.writeFile(`${consumerDir}/report.mjs`, script);
    const { stdout } = await run(process.execPath, [`${consumerDir}/report.mjs`], { cwd: root, env: { ...process.env, URL: server.url, KEY: ADMIN_KEY } });
    expect(JSON.parse(stdout)).toMatchObject({ sent: 6, failed: 0, dropped: 0 });
    expect(await server.app.services.db.prisma.systemMetric.count({ where: { metricName: 'client_package' } })).toBe(5);
  });

  it('flushOnExit: a service stopped with SIGTERM sends everything it accepted, then exits on the signal', async () => {
    const script = `
      import { createInsightsClient } from 'insights/client';
      const client = createInsightsClient({ url: process.env.URL, apiKey: process.env.KEY, flushOnExit: true, flushIntervalMs: 60000 });
      for (let i = 0; i < 1200; i++) client.recordSystemMetric({ metricName: 'client_sigterm', metricType: 'GAUGE', value: i });
      // A server would keep the process alive like this.
      setInterval(() => undefined, 1000);
      process.stdout.write('ready\\n');
    `;
    await fs.writeFile(`${consumerDir}/sigterm.mjs`, script);
    const child = spawn(process.execPath, [`${consumerDir}/sigterm.mjs`], { cwd: root, env: { ...process.env, URL: server.url, KEY: ADMIN_KEY } });
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
    expect(chunk.toString()).toContain('ready');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await server.app.services.db.prisma.systemMetric.count({ where: { metricName: 'client_sigterm' } })).toBe(1200);
  });

  it('ships declarations generated from schema.graphql that type-check a consumer', async () => {
    const consumer = `
      import { createInsightsClient, insightsMiddleware, type InsightsClientError } from 'insights/client';
      const client = createInsightsClient({ url: 'http://localhost:4000', apiKey: 'k', onError: (error: InsightsClientError) => void error.kind });
      client.recordPerformanceMetric({ metricName: 'http_request', metricType: 'HISTOGRAM', value: 12, responseTimeMs: 12, statusCode: 200 });
      // @ts-expect-error metricType is an enum of the schema
      client.recordSystemMetric({ metricName: 'cpu', metricType: 'NOT_A_TYPE', value: 1 });
      // @ts-expect-error userId is required by UserActivityInput
      client.trackActivity({ activityType: 'login' });
      export const middleware = insightsMiddleware({ client, getUser: (req) => req.headers['x-user'] as string | undefined });
    `;
    await fs.writeFile(`${consumerDir}/consumer.ts`, consumer);
    await fs.writeFile(
      `${consumerDir}/tsconfig.json`,
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: ['node'], noEmit: true, skipLibCheck: false }, files: ['consumer.ts'] }),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', consumerDir], { cwd: root }).catch((error: { stdout: string }) => error);
    expect('stdout' in result ? result.stdout : '').toBe('');
  });
});
