import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from './build.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A free TCP port on 127.0.0.1 (closed again before returning, so a child process can take it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface ExitedProcess {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the project's entry points (`src/….ts`) as its own process until it exits, on this process's
 * environment minus `unset`, plus `env`; killed after `timeoutMs`. It runs compiled (test/support/build.ts): the
 * code the npm scripts run under tsx, without every process compiling the service first.
 */
export async function runScript(
  script: string,
  args: string[],
  options: { env: Record<string, string | undefined>; unset: string[]; timeoutMs: number },
): Promise<ExitedProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  for (const name of options.unset) delete childEnv[name];
  Object.assign(childEnv, options.env);
  const child = spawn(process.execPath, [compiledEntry(script), ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} still running after ${options.timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, options.timeoutMs);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  return { code, stdout, stderr };
}
