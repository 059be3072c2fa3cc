import { z } from 'zod';
import { LIMITS, parseInput, text } from '../../core/input.js';
import { ADMIN_ONLY, builder } from '../../schema/builder.js';
import { assertIdCursors, CONNECTION_SIZES } from '../../schema/helpers.js';

const AuditEventObject = builder.prismaObject('AuditEvent', {
  description: 'One administrative action: who did what to what, and when.',
  fields: (t) => ({
    id: t.id({ description: 'Unique id, increasing in the order actions were recorded.', resolve: (event) => String(event.id) }),
    at: t.expose('at', { type: 'DateTime', description: 'When the action was taken.' }),
    actorKeyId: t.exposeString('actorKeyId', { nullable: true, description: 'The API key that acted; null for the command line.' }),
    actorName: t.exposeString('actorName', { description: 'The name of that key when it acted, or "command line".' }),
    action: t.exposeString('action', { description: 'What was done, e.g. api_key.created, api_key.revoked, job.run.' }),
    targetType: t.exposeString('targetType', { description: 'The kind of thing acted on, e.g. api_key, job.' }),
    targetId: t.exposeString('targetId', { nullable: true, description: 'Its id (a key id, a job name); null when not applicable.' }),
    description: t.exposeString('description', { description: 'A sentence saying what happened.' }),
    details: t.expose('details', { type: 'JSON', description: 'What else was recorded: names, scopes, run ids, statuses.' }),
  }),
});

const AuditEventFilter = builder.inputType('AuditEventFilter', {
  description: 'Which audit events to list: every given condition must hold.',
  fields: (t) => ({
    actions: t.stringList({ description: 'Only these actions, e.g. ["api_key.revoked"].' }),
    actorKeyId: t.string({ description: 'Only actions of this API key (its id).' }),
    targetType: t.string({ description: 'Only actions on this kind of thing, e.g. api_key.' }),
    targetId: t.string({ description: 'Only actions on this thing (with targetType).' }),
    from: t.field({ type: 'DateTime', description: 'Only actions at or after this instant (inclusive).' }),
    to: t.field({ type: 'DateTime', description: 'Only actions before this instant (exclusive).' }),
  }),
});

const filterSchema = z.object({
  actions: z.array(text(LIMITS.nameMaxLength)).max(100).nullish(),
  actorKeyId: z.uuid({ message: 'must be an API key id (UUID)' }).nullish(),
  targetType: text(50).nullish(),
  targetId: text(LIMITS.idMaxLength).nullish(),
  from: z.date().nullish(),
  to: z.date().nullish(),
});

builder.queryFields((t) => ({
  auditEvents: t.prismaConnection(
    {
      type: AuditEventObject,
      cursor: 'id',
      ...CONNECTION_SIZES,
      ...ADMIN_ONLY,
      description: 'The audit trail of administrative actions, newest first.',
      args: { filter: t.arg({ type: AuditEventFilter, description: 'Which events to list; all when absent.' }) },
      resolve: (query, _root, args, ctx) => {
        assertIdCursors(args);
        const filter = parseInput(filterSchema, args.filter ?? {}, 'filter');
        return ctx.db.prisma.auditEvent.findMany({
          ...query,
          where: {
            ...(filter.actions ? { action: { in: filter.actions } } : {}),
            ...(filter.actorKeyId ? { actorKeyId: filter.actorKeyId } : {}),
            ...(filter.targetType ? { targetType: filter.targetType } : {}),
            ...(filter.targetId ? { targetId: filter.targetId } : {}),
            ...(filter.from || filter.to ? { at: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
          },
          orderBy: { id: 'desc' },
        });
      },
    },
    { description: 'A page of audit events.' },
    { description: 'One audit event and its cursor.' },
  ),
}));
