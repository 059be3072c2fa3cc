import type { Logger } from 'pino';
import type { ApiKeyAuthenticator } from '../auth/apiKeys.js';
import type { Principal } from '../auth/scopes.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Ingestor } from '../ingest/ingest.js';
import type { JobScheduler } from '../jobs/scheduler.js';
import type { LiveHub } from '../realtime/liveHub.js';
import type { EventBus } from '../realtime/pubsub.js';
import type { SystemSnapshotFeeds } from '../realtime/systemSnapshots.js';

/** Long-lived parts of one running app, shared by every request. */
export interface Services {
  config: Config;
  log: Logger;
  db: Database;
  bus: EventBus;
  ingestor: Ingestor;
  authenticator: ApiKeyAuthenticator;
  live: LiveHub;
  snapshots: SystemSnapshotFeeds;
  /** Scheduled jobs: timers when MONITORING_ENABLED, manual runs always. */
  scheduler: JobScheduler;
}

/** Per-operation context: the services plus who is calling. Every operation has an authenticated principal. */
export interface Context extends Services {
  principal: Principal;
  requestId: string;
}
