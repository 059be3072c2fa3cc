import { parseArgs } from 'node:util';
import { recordAudit } from '../auth/audit.js';
import { ConfigError, loadConfig, type Environment } from '../config.js';
import { UnknownJobError } from '../jobs/index.js';
import { checkMonitoringCommand } from './checkMonitoring.js';
import { cleanup, CLEANUP_USAGE, parseOlderThan } from './cleanup.js';
import { processOutput, type Output } from './output.js';
import { CLI_ACTOR, CliError, describe, openRuntime } from './runtime.js';

export const USAGE = `Insights operator commands (settings come from the same environment variables as the service).

Usage:
  ${CLEANUP_USAGE}
      Deletes records (and job history) older than the age, as a manual run of the retention job.
  insights check-monitoring [--json]
      Database, migrations, pub/sub and every job's latest run; exits 1 when anything is unhealthy.
  insights run-job <name>
      Runs one job now (collect-system-metrics, retention, aggregate-application-metrics); exits 1 unless it succeeds.

Exit codes: 0 done / healthy, 1 failed / unhealthy, 2 wrong usage or configuration.
Run through npm: npm run insights -- <command> [options]
`;

/** Runs one command; resolves with the process exit code. Never throws. */
export async function runCli(argv: string[], environment: Environment = process.env, output: Output = processOutput): Promise<number> {
  try {
    return await dispatch(argv, environment, output);
  } catch (error) {
    if (error instanceof CliError) {
      output.err(`insights: ${error.message}\n`);
      return error.exitCode;
    }
    output.err(`insights: ${describe(error)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], environment: Environment, output: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'older-than': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new CliError(`${describe(error)}\n${USAGE}`, 2);
  }
  const { positionals, values } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help' || !command) {
    output.out(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (!['cleanup', 'check-monitoring', 'run-job'].includes(command)) throw new CliError(`unknown command "${command}"\n${USAGE}`, 2);
  // Options that belong to another command are mistakes, not silently ignored.
  const allowed: Record<string, string[]> = { cleanup: ['older-than', 'dry-run'], 'check-monitoring': ['json'], 'run-job': [] };
  const misplaced = (['older-than', 'dry-run', 'json'] as const).filter(
    (option) => values[option] !== undefined && values[option] !== false && !allowed[command]?.includes(option),
  );
  if (misplaced.length > 0) throw new CliError(`${command} does not take --${misplaced.join(', --')}`, 2);

  let config;
  try {
    config = loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }

  switch (command) {
    case 'cleanup': {
      if (rest.length > 0) throw new CliError(`cleanup takes no arguments besides its options.\nUsage: ${CLEANUP_USAGE}`, 2);
      const label = values['older-than'] ?? '';
      const olderThanMs = parseOlderThan(values['older-than']);
      const runtime = await openRuntime(config, { migrate: true });
      try {
        return await cleanup(runtime, output, { olderThanMs, dryRun: values['dry-run'] === true, label });
      } finally {
        await runtime.close();
      }
    }
    case 'check-monitoring': {
      // Read-only: a database that is behind on migrations is reported, not changed.
      const runtime = await openRuntime(config, { migrate: false });
      try {
        return await checkMonitoringCommand(runtime, output, { json: values.json === true });
      } finally {
        await runtime.close();
      }
    }
    default: {
      const [name, ...extra] = rest;
      if (!name || extra.length > 0) throw new CliError('run-job needs exactly one job name: insights run-job <name>', 2);
      const runtime = await openRuntime(config, { migrate: true });
      try {
        let run;
        try {
          run = await runtime.scheduler.runNow(name);
        } catch (error) {
          if (error instanceof UnknownJobError) throw new CliError(error.message, 2);
          throw error;
        }
        await recordAudit(runtime.ingestor, CLI_ACTOR, 'job.run', `Job "${name}" run from the command line`, {
          job: name,
          runId: run.id,
          status: run.status,
        });
        const where = `run ${run.id}, ${run.trigger.toLowerCase()}, tick ${run.scheduledAt.toISOString()} on ${run.host}`;
        output.out(`${name}: ${run.status} (${where}${run.durationMs === null ? '' : `, ${run.durationMs} ms`})\n`);
        if (run.result) output.out(`${JSON.stringify(run.result, null, 2)}\n`);
        if (run.error) output.err(`${run.error}\n`);
        return run.status === 'SUCCEEDED' ? 0 : 1;
      } finally {
        await runtime.close();
      }
    }
  }
}
