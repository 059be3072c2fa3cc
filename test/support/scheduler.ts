import pino from 'pino';
import { compose, type Composition } from '../../src/compose.js';
import { loadConfig, type Environment } from '../../src/config.js';
import type { JobScheduler } from '../../src/modules/jobs/scheduler.js';

/**
 * An instance's scheduler as the composition root wires it (every module's jobs, from `env`), without the HTTP
 * server: for tests that run several instances' timers on one database.
 */
export async function composeScheduler(env: Environment): Promise<{ scheduler: JobScheduler; composition: Composition }> {
  const composition = await compose(loadConfig({ LOG_LEVEL: 'silent', ...env }), { mode: 'server', log: pino({ level: 'silent' }) });
  return { scheduler: composition.services.scheduler, composition };
}
