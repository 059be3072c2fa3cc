import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from './build.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly running: boolean;
  /** SIGKILL if still running (cleanup). */
  kill(): void;
}

/** Runs the real entry point, compiled as `npm start` runs it (test/support/build.ts), on `port`. */
export function startServiceProcess(port: number, env: Record<string, string | undefined>): ServiceProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'INSIGHTS_ADMIN_KEY', 'TEST_DATABASE_URL', 'TEST_REDIS_URL', 'NODE_OPTIONS']) {
    delete childEnv[name];
  }
  Object.assign(childEnv, { PORT: String(port), HOST: '127.0.0.1', MONITORING_ENABLED: 'false', LOG_LEVEL: 'warn' }, env);
  const child = spawn(process.execPath, [compiledEntry('src/main.ts')], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal, at: Date.now() });
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    get running() {
      return running;
    },
    kill: () => {
      if (running) child.kill('SIGKILL');
    },
  };
}

/** Polls GET /health until it answers 200; fails with the process output when it exits or times out. */
export async function waitForHealthy(service: ServiceProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && service.running) {
    try {
      const response = await fetch(`${service.url}/health`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${service.running ? `not healthy within ${timeoutMs} ms` : 'service exited'}\n--- output\n${service.output()}`);
}
