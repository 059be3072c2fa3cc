import { parseArgs } from 'node:util';
import pino from 'pino';
import { compose, type Composition } from '../compose.js';
import { CliError, describeError, processOutput, type CliCommand, type CliOptionSpec, type Output } from '../core/cli.js';
import { ConfigError } from '../core/config.js';
import { DataDirectoryInUseError } from '../core/db/database.js';
import type { MonitoringCheck, Services } from '../core/module.js';
import { loadConfig, type Environment } from '../config.js';
import { MODULES } from '../modules/index.js';
import { checkMonitoringCommand } from './checkMonitoring.js';

// `npm run insights -- <command>`: the operator commands every module contributes, run on the services of the
// composition root (so their writes reach other instances through Redis when REDIS_URL is set).

/** The commands, in the order the usage lists them; check-monitoring runs over every module's checks. */
function commands(checks: readonly MonitoringCheck[] = []): CliCommand<Services>[] {
  return [...MODULES.flatMap((module) => module.commands ?? []), checkMonitoringCommand(checks)];
}

export function usage(): string {
  const lines = commands().map((command) => `  ${command.usage.replace(/\n/g, '\n  ')}\n      ${command.summary}`);
  return `Insights operator commands (settings come from the same environment variables as the service).

Usage:
${lines.join('\n')}

Exit codes: 0 done / healthy, 1 failed / unhealthy, 2 wrong usage or configuration.
Run through npm: npm run insights -- <command> [options]
`;
}

/** Runs one command; resolves with the process exit code. Never throws. */
export async function runCli(argv: string[], environment: Environment = process.env, output: Output = processOutput): Promise<number> {
  try {
    return await dispatch(argv, environment, output);
  } catch (error) {
    if (error instanceof CliError) {
      output.err(`insights: ${error.message}\n`);
      return error.exitCode;
    }
    output.err(`insights: ${describeError(error)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], environment: Environment, output: Output): Promise<number> {
  const known = commands();
  // Every command's options are known to the parser, so that one given to the wrong command is named as such.
  const options: CliOptionSpec = { help: { type: 'boolean', short: 'h' } };
  for (const command of known) Object.assign(options, command.options);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new CliError(`${describeError(error)}\n${usage()}`, 2);
  }
  const [name, ...positionals] = parsed.positionals;
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help || name === 'help' || !name) {
    output.out(usage());
    return name || values.help ? 0 : 2;
  }
  const command = known.find((candidate) => candidate.name === name);
  if (!command) throw new CliError(`unknown command "${name}"\n${usage()}`, 2);
  const misplaced = Object.keys(values).filter((option) => option !== 'help' && values[option] !== undefined && !(option in (command.options ?? {})));
  if (misplaced.length > 0) throw new CliError(`${name} does not take --${misplaced.join(', --')}`, 2);
  const args = { positionals, values };
  command.validate?.(args);

  let config;
  try {
    config = loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
  // Operators read the command's own output; only warnings and errors are logged (as JSON, on stderr).
  const log = pino({ level: config.logLevel === 'silent' ? 'silent' : 'warn', base: { service: 'insights-cli' } }, pino.destination(2));
  let composition: Composition;
  try {
    composition = await compose(config, { mode: 'cli', log, migrate: command.migrate !== false });
  } catch (error) {
    const where = config.database.url ? 'PostgreSQL' : `the embedded database in ${config.database.dataDir}`;
    const hint =
      config.database.url || error instanceof DataDirectoryInUseError
        ? ''
        : ' (an embedded database can be open in one process only: stop the service, or point DATABASE_URL at PostgreSQL)';
    throw new CliError(`could not open ${where}: ${describeError(error)}${hint}`);
  }
  try {
    const runnable = command.name === 'check-monitoring' ? checkMonitoringCommand(composition.checks) : command;
    return await runnable.run(composition.services, args, output);
  } finally {
    await composition.close();
  }
}
