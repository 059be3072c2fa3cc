import type { Output } from '../../src/core/cli.js';

/** An Output that records what a command prints, optionally posing as a terminal. */
export function capture(isTTY: boolean): Output & { stdout: string; stderr: string } {
  const output = {
    stdout: '',
    stderr: '',
    isTTY,
    columns: 100,
    out: (text: string) => void (output.stdout += text),
    err: (text: string) => void (output.stderr += text),
  };
  return output;
}
