import pino, { type Logger } from 'pino';
import type { Config } from '../config.js';
import { DataDirectoryInUseError, openDatabase, type Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { Ingestor } from '../ingest/ingest.js';
import { createJobScheduler, type JobScheduler } from '../jobs/index.js';
import { createEventBus, type EventBus } from '../realtime/pubsub.js';

/** The parts of the service a command needs, without the HTTP server and without the schedule's timers. */
export interface CliRuntime {
  config: Config;
  log: Logger;
  db: Database;
  bus: EventBus;
  ingestor: Ingestor;
  scheduler: JobScheduler;
  close(): Promise<void>;
}

/** Who the audit trail names for actions taken from the command line (as the apikey command does). */
export const CLI_ACTOR = { keyId: null, keyName: 'command line' };

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Opens the configured database and pub/sub. Jobs run from here publish on the same bus topics as the service,
 * so with REDIS_URL their records reach the service's live subscribers too.
 */
export async function openRuntime(config: Config, options: { migrate: boolean }): Promise<CliRuntime> {
  // Operators read the command's own output; only warnings and errors are logged (as JSON, on stderr).
  const log = pino({ level: config.logLevel === 'silent' ? 'silent' : 'warn', base: { service: 'insights-cli' } }, pino.destination(2));
  let db: Database;
  try {
    db = await openDatabase(config.database, log);
  } catch (error) {
    const where = config.database.url ? 'PostgreSQL' : `the embedded database in ${config.database.dataDir}`;
    const hint = config.database.url || error instanceof DataDirectoryInUseError
      ? ''
      : ' (an embedded database can be open in one process only: stop the service, or point DATABASE_URL at PostgreSQL)';
    throw new CliError(`could not open ${where}: ${describe(error)}${hint}`);
  }
  const bus = createEventBus({ redisUrl: config.redisUrl, log });
  try {
    if (options.migrate) await migrate(db, log);
  } catch (error) {
    await bus.close();
    await db.close();
    throw new CliError(`could not prepare the database: ${describe(error)}`);
  }
  const ingestor = new Ingestor(db, bus, config.ingest.batchSize);
  // Timers are never armed here (start() is not called): a command runs what it is asked to, once.
  const scheduler = createJobScheduler(config, { db, ingestor, log });
  return {
    config,
    log,
    db,
    bus,
    ingestor,
    scheduler,
    async close() {
      await scheduler.stop();
      await bus.close();
      await db.close();
    },
  };
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error && typeof error === 'object' && 'errno' in error) return `file system error ${String((error as { errno: unknown }).errno)}`;
  return String(error);
}
