import { defineModule } from '../../core/module.js';
import { AuditTrail } from './service.js';
import './schema.js';

// The audit trail: every module records its administrative actions through `audit`.

declare module '../../core/module.js' {
  interface ModuleServices {
    audit: AuditTrail;
  }
}

export const auditModule = defineModule({
  name: 'audit',
  setup: ({ services }) => ({ services: { audit: new AuditTrail(services.db) } }),
});

export type { Actor, AuditTarget } from './service.js';
