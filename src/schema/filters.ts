import { builder } from './builder.js';

// Filter inputs per family. Ranges are half-open on `timestamp`: from <= timestamp < to.

const timeRange = {
  from: { type: 'DateTime', description: 'Inclusive lower bound on timestamp.' },
  to: { type: 'DateTime', description: 'Exclusive upper bound on timestamp.' },
} as const;

export const UserActivityFilter = builder.inputType('UserActivityFilter', {
  fields: (t) => ({
    from: t.field(timeRange.from),
    to: t.field(timeRange.to),
    userId: t.string(),
    activityType: t.string(),
    activityTypes: t.stringList(),
  }),
});

export const SystemMetricFilter = builder.inputType('SystemMetricFilter', {
  fields: (t) => ({
    from: t.field(timeRange.from),
    to: t.field(timeRange.to),
    metricName: t.string(),
    metricNames: t.stringList(),
    tags: t.field({ type: 'JSON', description: 'Records whose tags contain all of these key/value pairs.' }),
    host: t.string({ description: 'Shorthand for tags: { host }.' }),
  }),
});

export const ApplicationMetricFilter = builder.inputType('ApplicationMetricFilter', {
  fields: (t) => ({
    from: t.field(timeRange.from),
    to: t.field(timeRange.to),
    metricName: t.string(),
    metricNames: t.stringList(),
    tags: t.field({ type: 'JSON', description: 'Records whose tags contain all of these key/value pairs.' }),
    appName: t.string(),
  }),
});

export const UserMetricFilter = builder.inputType('UserMetricFilter', {
  fields: (t) => ({
    from: t.field(timeRange.from),
    to: t.field(timeRange.to),
    metricName: t.string(),
    metricNames: t.stringList(),
    tags: t.field({ type: 'JSON', description: 'Records whose tags contain all of these key/value pairs.' }),
    userId: t.string(),
    sessionId: t.string(),
  }),
});

export const PerformanceMetricFilter = builder.inputType('PerformanceMetricFilter', {
  fields: (t) => ({
    from: t.field(timeRange.from),
    to: t.field(timeRange.to),
    metricName: t.string(),
    metricNames: t.stringList(),
    tags: t.field({ type: 'JSON', description: 'Records whose tags contain all of these key/value pairs.' }),
    statusCode: t.int(),
  }),
});
