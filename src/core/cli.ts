/** Where a command writes: the process's streams in use, buffers in tests. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
  columns: number;
}

export const processOutput: Output = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
  columns: process.stdout.columns ?? 80,
};

export const formatCount = (value: number) => value.toLocaleString('en-US');

/** A one-line bar redrawn in place; on anything but a terminal it draws nothing. */
export function progressBar(output: Output) {
  let drawn = false;
  return {
    update(label: string, done: number, total: number) {
      if (!output.isTTY) return;
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const width = Math.max(10, Math.min(40, output.columns - 60));
      const filled = Math.round(ratio * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      output.out(`\r\x1b[2K${label.padEnd(22)} [${bar}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${formatCount(done)}/${formatCount(total)}`);
      drawn = true;
    },
    clear() {
      if (drawn) output.out('\r\x1b[2K');
      drawn = false;
    },
  };
}

/** Left-aligned columns, for the small tables the commands print. */
export function table(rows: string[][]): string {
  const widths = rows.reduce<number[]>((max, row) => row.map((cell, index) => Math.max(max[index] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  ').trimEnd()).join('\n');
}

/** A command's failure: its message is printed, and the process exits with `exitCode` (2: wrong usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Who the audit trail names for actions taken from the command line. */
export const CLI_ACTOR = { keyId: null, keyName: 'command line' } as const;

export type CliOptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string; default?: string | boolean }>;

export interface CliArguments {
  /** What follows the command's name (and, for commands with subcommands, the subcommand). */
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

/**
 * An operator command of `npm run insights -- <name>`, contributed by a module. It runs on the services of the
 * same composition root as the server (database, pub/sub through Redis when configured), without the HTTP
 * server and with the scheduler's timers off.
 */
export interface CliCommand<Services = unknown> {
  name: string;
  /** One line or more: `insights cleanup --older-than <90d|12h|30m> [--dry-run]`. */
  usage: string;
  summary: string;
  options?: CliOptionSpec;
  /** False for read-only commands: a database that is behind on migrations is reported, not changed. @default true */
  migrate?: boolean;
  /** Checks the arguments before anything is opened; throws CliError (exit code 2) on wrong usage. */
  validate?(args: CliArguments): void;
  /** Resolves with the exit code: 0 done or healthy, 1 failed or unhealthy, 2 wrong usage (or throw CliError). */
  run(services: Services, args: CliArguments, output: Output): Promise<number>;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error && typeof error === 'object' && 'errno' in error) return `file system error ${String((error as { errno: unknown }).errno)}`;
  return String(error);
}
