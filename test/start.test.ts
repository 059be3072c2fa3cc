import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MINIMUM_NODE_VERSION, unsupportedNodeVersion } from '../src/nodeVersion.js';
import { compiledEntry } from './support/build.js';
import { createScratchDirectory } from './support/databases.js';
import { freePort } from './support/processes.js';
import { ADMIN_KEY } from './support/server.js';

// What `npm start` runs: the compiled entry point, which first checks the Node.js version.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number | null;
  output: string;
}

/** Runs node with `args` from the project root until it exits (or `until` resolves, then SIGTERM). */
function runNode(args: string[], env: Record<string, string>, until?: (output: () => string) => Promise<void>): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'NODE_OPTIONS']) if (!(name in env)) delete childEnv[name];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 110_000);
  return (async () => {
    try {
      if (until) {
        await Promise.race([until(() => output), exited.then(() => Promise.reject(new Error(`exited early:\n${output}`)))]);
        child.kill('SIGTERM');
      }
      return { code: await exited, output };
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  })();
}

/** A preload that makes the process report another Node.js version. */
const pretendNode = (version: string) =>
  `data:text/javascript,Object.defineProperty(process.versions,'node',{value:${JSON.stringify(version)}})`;

describe('Node.js version check', () => {
  it('matches engines.node of package.json', () => {
    const engines = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines;
    expect(engines.node.replace(/^>=/, '').split('.').concat('0', '0').slice(0, 3).join('.')).toBe(MINIMUM_NODE_VERSION);
  });

  it('accepts the minimum and anything newer, refuses anything older', () => {
    for (const version of ['20.19.0', '20.20.2', 'v20.19.1', '21.0.0', '22.0.0', '24.11.1']) expect(unsupportedNodeVersion(version), version).toBeNull();
    for (const version of ['20.18.3', 'v20.0.0', '18.20.4', '16.0.0']) {
      expect(unsupportedNodeVersion(version), version).toContain(`Insights needs Node.js ${MINIMUM_NODE_VERSION} or newer`);
    }
  });

  it('stops the service with a clear message before loading anything else', async () => {
    // PORT is invalid: had the service's modules been loaded, the configuration error would be printed instead.
    const run = await runNode(['--import', pretendNode('18.19.1'), compiledEntry('src/start.ts')], { PORT: 'not-a-port' });
    expect(run.code).toBe(1);
    expect(run.output.trim().split('\n')).toEqual([
      expect.stringMatching(/^Insights needs Node\.js 20\.19\.0 or newer; this is Node\.js 18\.19\.1 \(/),
      expect.stringMatching(/^Install Node\.js 20\.19\.0 or newer/),
    ]);
  });
});

// Compiled by scripts/build.mjs once for the whole test run (test/support/globalBuild.ts), as `npm start` does.
describe('the compiled service (npm start)', () => {

  it('starts on a new embedded database, finds the migrations, answers, and stops on SIGTERM', { timeout: 120_000 }, async () => {
    const dataDir = await createScratchDirectory('start');
    const port = await freePort();
    try {
      let answer: unknown;
      const run = await runNode(
        [compiledEntry('src/start.ts')],
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          INSIGHTS_DATA_DIR: dataDir.dir,
          INSIGHTS_ADMIN_KEY: ADMIN_KEY,
          MONITORING_ENABLED: 'false',
          LOG_LEVEL: 'info',
        },
        async (output) => {
          while (!output().includes('Insights is listening')) await new Promise((resolve) => setTimeout(resolve, 100));
          const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
            body: JSON.stringify({ query: '{ systemMetrics(first: 1) { totalCount } }' }),
          });
          answer = await response.json();
        },
      );
      expect(answer).toEqual({ data: { systemMetrics: { totalCount: 0 } } });
      expect(run.output).toContain('applied database migrations');
      expect(run.code, run.output).toBe(0);
    } finally {
      await dataDir.remove();
    }
  });
});
