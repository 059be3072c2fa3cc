import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

// vitest globalSetup: compiles the service once per test run (scripts/build.mjs, what `npm start` runs), so the
// tests that start it as a process of its own run JavaScript. Under tsx each such process first compiled the
// whole service, which on a busy machine took longer than the tests allowed for its start-up.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    /** The compiled service's folder (absolute path, ends with a slash): see test/support/build.ts. */
    serviceBuild: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  // A folder of this run's own: runs in other worktrees, or two runs in this one, do not delete each other's.
  const outdir = `dist-test-${randomBytes(4).toString('hex')}`;
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/build.mjs', outdir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`scripts/build.mjs ${outdir} exited with ${code}\n${Buffer.concat(output).toString()}`);
  project.provide('serviceBuild', `${ROOT}${outdir}/`);
  return () => rmSync(`${ROOT}${outdir}`, { recursive: true, force: true });
}
