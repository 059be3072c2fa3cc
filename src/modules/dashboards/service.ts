import { z } from 'zod';
import type { Database } from '../../core/db/database.js';
import { sql, type Queryable } from '../../core/db/sql.js';
import type { EventBus } from '../../core/bus/pubsub.js';
import { conflict } from '../../core/errors.js';
import { InputValidationError, invalidInput, issue } from '../../core/input.js';
import type { JsonValue } from '../../core/json.js';
import type { Actor, AuditTrail } from '../audit/service.js';
import { checkDashboard, type DashboardDefinition, type DashboardInput, type DashboardRecord, type TimeRange } from './model.js';
import type { AlertSource, WidgetEngine } from './data.js';
import type { DashboardFeeds } from './live.js';
import { DASHBOARD_CHANGED_TOPIC } from './topics.js';

// Dashboard definitions: checked on every save, written with their version row and their audit entry in one
// transaction, announced after the commit (live panels recompute at once).

export class DashboardNotFoundError extends Error {
  override name = 'DashboardNotFoundError';
}

/** The format exportDashboard writes and importDashboard reads back (besides the product's own JSON). */
export const EXPORT_FORMAT = 'insights.dashboard/v1';

const COLUMNS = sql`id::text AS "id", name, description, tags, refresh_interval AS "refreshInterval", time_range AS "timeRange",
  time_zone AS "timeZone", variables, widgets, version, created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface DashboardVersionRecord {
  version: number;
  definition: DashboardDefinition;
  createdBy: string;
  createdAt: Date;
}

const uuid = z.uuid();
export function dashboardId(id: string, argument = 'id'): string {
  if (!uuid.safeParse(id).success) throw invalidInput(argument, 'must be a dashboard id (UUID)');
  return id;
}

function definitionOf(record: DashboardDefinition): DashboardDefinition {
  const { name, description, tags, refreshInterval, timeRange, timeZone, variables, widgets } = record;
  return { name, description, tags, refreshInterval, timeRange, timeZone, variables, widgets };
}

function parsed(input: DashboardInput): DashboardDefinition {
  const { definition, issues } = checkDashboard(input);
  if (!definition) throw new InputValidationError(issues);
  return definition;
}

export class DashboardService {
  /** Live feeds of dashboard data (set once the module is composed: they read dashboards through this service). */
  feeds!: DashboardFeeds;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditTrail,
    private readonly bus: EventBus,
    /** Computes widget data. */
    readonly engine: WidgetEngine,
    /** The alerting module's active alerts, when it is registered. */
    readonly alerts: AlertSource | null,
  ) {}

  async get(id: string, tx: Queryable = this.db): Promise<DashboardRecord | null> {
    if (!uuid.safeParse(id).success) return null;
    const [row] = await tx.query<DashboardRecord>(sql`/* dashboards.get */ SELECT ${COLUMNS} FROM dashboards WHERE id = ${id}::uuid`);
    return row ?? null;
  }

  /** A page of dashboards by name (then id), matching a search in name or description and holding every tag. */
  async list(filter: { search?: string | null; tags?: string[] | null }, limit: number, offset: number): Promise<DashboardRecord[]> {
    const search = filter.search ? `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
    const tags = filter.tags ?? [];
    return this.db.query<DashboardRecord>(sql`/* dashboards.list */
      SELECT ${COLUMNS} FROM dashboards
      WHERE (${search}::text IS NULL OR name ILIKE ${search} OR description ILIKE ${search})
        AND tags @> ${tags}::text[]
      ORDER BY name, id LIMIT ${limit} OFFSET ${offset}`);
  }

  async create(actor: Actor, input: DashboardInput, action = 'dashboard.created'): Promise<DashboardRecord> {
    const definition = parsed(input);
    const row = await this.db.transaction(async (tx) => {
      const [created] = await tx.query<DashboardRecord>(sql`/* dashboards.create */
        INSERT INTO dashboards (id, name, description, tags, refresh_interval, time_range, time_zone, variables, widgets)
        VALUES (gen_random_uuid(), ${definition.name}, ${definition.description}, ${definition.tags}::text[], ${definition.refreshInterval},
          ${JSON.stringify(definition.timeRange)}::jsonb, ${definition.timeZone}, ${JSON.stringify(definition.variables)}::jsonb,
          ${JSON.stringify(definition.widgets)}::jsonb)
        RETURNING ${COLUMNS}`);
      await this.keepVersion(tx, created!, actor);
      await this.audit.record(actor, action, { type: 'dashboard', id: created!.id }, `Dashboard "${created!.name}" ${action === 'dashboard.imported' ? 'imported' : 'created'}`, {
        name: created!.name,
        widgets: created!.widgets.length,
      }, tx);
      return created!;
    });
    this.announce(row.id);
    return row;
  }

  /**
   * Replaces a dashboard's definition. `expectedVersion` is the version the caller read: a dashboard changed since
   * is refused with CONFLICT and nothing is written.
   */
  async update(actor: Actor, id: string, input: DashboardInput, expectedVersion: number, action = 'dashboard.updated', restoredFrom?: number): Promise<DashboardRecord> {
    const definition = parsed(input);
    const row = await this.db.transaction(async (tx) => {
      const [current] = await tx.query<DashboardRecord>(sql`/* dashboards.lock */ SELECT ${COLUMNS} FROM dashboards WHERE id = ${id}::uuid FOR UPDATE`);
      if (!current) throw new DashboardNotFoundError(id);
      if (current.version !== expectedVersion) {
        throw conflict(`dashboard "${current.name}" is at version ${current.version}, not ${expectedVersion}: it was changed since it was read; nothing was changed`, {
          currentVersion: current.version,
        });
      }
      const [updated] = await tx.query<DashboardRecord>(sql`/* dashboards.update */
        UPDATE dashboards SET name = ${definition.name}, description = ${definition.description}, tags = ${definition.tags}::text[],
          refresh_interval = ${definition.refreshInterval}, time_range = ${JSON.stringify(definition.timeRange)}::jsonb, time_zone = ${definition.timeZone},
          variables = ${JSON.stringify(definition.variables)}::jsonb, widgets = ${JSON.stringify(definition.widgets)}::jsonb,
          version = version + 1, updated_at = now()
        WHERE id = ${id}::uuid RETURNING ${COLUMNS}`);
      await this.keepVersion(tx, updated!, actor);
      const details: Record<string, JsonValue> = { name: updated!.name, version: updated!.version };
      if (restoredFrom !== undefined) details.restoredFrom = restoredFrom;
      await this.audit.record(actor, action, { type: 'dashboard', id }, `Dashboard "${updated!.name}" ${restoredFrom !== undefined ? `restored to version ${restoredFrom}` : 'updated'}`, details, tx);
      return updated!;
    });
    this.announce(id);
    return row;
  }

  async delete(actor: Actor, id: string): Promise<DashboardRecord> {
    const row = await this.db.transaction(async (tx) => {
      const [deleted] = await tx.query<DashboardRecord>(sql`/* dashboards.delete */ DELETE FROM dashboards WHERE id = ${id}::uuid RETURNING ${COLUMNS}`);
      if (!deleted) throw new DashboardNotFoundError(id);
      await this.audit.record(actor, 'dashboard.deleted', { type: 'dashboard', id }, `Dashboard "${deleted.name}" deleted`, { name: deleted.name, version: deleted.version }, tx);
      return deleted;
    });
    this.announce(id);
    return row;
  }

  /** Every kept version, newest first. */
  async versions(id: string): Promise<DashboardVersionRecord[]> {
    return this.db.query<DashboardVersionRecord>(sql`/* dashboards.versions */
      SELECT version, definition, created_by AS "createdBy", created_at AS "createdAt" FROM dashboard_versions
      WHERE dashboard_id = ${id}::uuid ORDER BY version DESC`);
  }

  /** Brings an old version back as a new one (the history is kept). */
  async restore(actor: Actor, id: string, version: number): Promise<DashboardRecord> {
    const [kept] = await this.db.query<{ definition: DashboardDefinition }>(sql`/* dashboards.version */
      SELECT definition FROM dashboard_versions WHERE dashboard_id = ${id}::uuid AND version = ${version}`);
    if (!kept) {
      if (!(await this.get(id))) throw new DashboardNotFoundError(id);
      throw invalidInput('version', `dashboard ${id} has no version ${version}`);
    }
    const current = await this.get(id);
    if (!current) throw new DashboardNotFoundError(id);
    return this.update(actor, id, kept.definition as unknown as DashboardInput, current.version, 'dashboard.restored', version);
  }

  /** A dashboard as JSON another installation can import. */
  exportJson(record: DashboardRecord): JsonValue {
    return { format: EXPORT_FORMAT, exportedVersion: record.version, dashboard: definitionOf(record) as unknown as JsonValue };
  }

  /** Creates a dashboard from exportDashboard's JSON or from the product's dashboard JSON. */
  async import(actor: Actor, json: unknown): Promise<DashboardRecord> {
    return this.create(actor, importInput(json), 'dashboard.imported');
  }

  private async keepVersion(tx: Queryable, record: DashboardRecord, actor: Actor): Promise<void> {
    await tx.query(sql`/* dashboards.keepVersion */
      INSERT INTO dashboard_versions (dashboard_id, version, definition, created_by)
      VALUES (${record.id}::uuid, ${record.version}, ${JSON.stringify(definitionOf(record))}::jsonb, ${actor.keyName.slice(0, 100)})`);
  }

  private announce(id: string): void {
    this.bus.publish(DASHBOARD_CHANGED_TOPIC, { id });
  }
}

const PRODUCT_TYPES: Record<string, string> = {
  metric_card: 'METRIC_CARD',
  time_series: 'TIME_SERIES',
  bar_chart: 'BAR_CHART',
  pie_chart: 'PIE_CHART',
  table: 'TABLE',
  heatmap: 'HEATMAP',
  alert_list: 'ALERT_LIST',
  activity_feed: 'ACTIVITY_FEED',
};
const PRODUCT_SOURCES: Record<string, string> = {
  system: 'SYSTEM',
  system_metrics: 'SYSTEM',
  application: 'APPLICATION',
  application_metrics: 'APPLICATION',
  user: 'USER',
  user_metrics: 'USER',
  performance: 'PERFORMANCE',
  performance_metrics: 'PERFORMANCE',
  activity: 'ACTIVITY',
  activities: 'ACTIVITY',
  user_activities: 'ACTIVITY',
};
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** A product widget's query in our words: snake_case keys, lowercase sources, a single metric name. */
function productQuery(raw: unknown): unknown {
  if (!isObject(raw)) return raw;
  const pick = (...keys: string[]) => keys.map((key) => raw[key]).find((value) => value !== undefined);
  const source = pick('source', 'family', 'data_source');
  const metric = pick('metricNames', 'metric_names', 'metrics');
  const single = pick('metric', 'metric_name', 'metricName');
  const activities = pick('activityTypes', 'activity_types');
  const activity = pick('activity_type', 'activityType');
  return {
    source: typeof source === 'string' ? (PRODUCT_SOURCES[source.toLowerCase()] ?? source.toUpperCase()) : source,
    metricNames: metric ?? (single !== undefined ? [single] : undefined),
    activityTypes: activities ?? (activity !== undefined ? [activity] : undefined),
    filter: pick('filter', 'tags', 'filters'),
    aggregation: pick('aggregation', 'aggregate', 'agg'),
    field: pick('field'),
    interval: typeof pick('interval') === 'string' ? String(pick('interval')).toUpperCase() : pick('interval'),
    groupByTag: pick('groupByTag', 'group_by_tag', 'group_by'),
    topN: pick('topN', 'top_n', 'limit'),
  };
}

/**
 * The input a JSON document stands for: our export (`format`), or the product's dashboard JSON, whose `dashboard`
 * object carries name, description, `refresh_interval` and `time_range` ("7d"), and whose `widgets` (inside
 * `dashboard` or beside it) have lowercase types such as metric_card, time_series and pie_chart.
 */
export function importInput(json: unknown): DashboardInput {
  if (!isObject(json)) throw invalidInput('json', 'must be a JSON object: an exported dashboard, or the product\'s { "dashboard": …, "widgets": […] }');
  if (json.format === EXPORT_FORMAT) {
    if (!isObject(json.dashboard)) throw invalidInput('json.dashboard', 'must be an object');
    return json.dashboard as DashboardInput;
  }
  if (json.format !== undefined) throw invalidInput('json.format', `must be ${EXPORT_FORMAT} (or absent for the product's dashboard JSON)`);
  const dashboard = isObject(json.dashboard) ? json.dashboard : null;
  if (!dashboard) throw invalidInput('json.dashboard', 'is required: an object with the dashboard\'s name and settings');
  const widgets = dashboard.widgets ?? json.widgets;
  if (widgets !== undefined && !Array.isArray(widgets)) throw invalidInput('json.widgets', 'must be a list');
  const timeRange = dashboard.time_range ?? dashboard.timeRange;
  const issues = [];
  if (typeof dashboard.name !== 'string' && typeof dashboard.title !== 'string') issues.push(issue('json.dashboard.name', 'is required'));
  if (issues.length > 0) throw new InputValidationError(issues);
  return {
    name: dashboard.name ?? dashboard.title,
    description: dashboard.description ?? undefined,
    tags: dashboard.tags ?? undefined,
    refreshInterval: dashboard.refresh_interval ?? dashboard.refreshInterval,
    timeRange: typeof timeRange === 'string' ? { relative: timeRange } : timeRange,
    timeZone: dashboard.time_zone ?? dashboard.timeZone,
    variables: dashboard.variables ?? undefined,
    widgets: ((widgets ?? []) as unknown[]).map((widget) => {
      if (!isObject(widget)) return widget;
      const type = typeof widget.type === 'string' ? (PRODUCT_TYPES[widget.type.toLowerCase()] ?? widget.type) : widget.type;
      return {
        id: widget.id === undefined || widget.id === null ? undefined : String(widget.id),
        type,
        title: widget.title ?? widget.name,
        position: widget.position,
        query: productQuery(widget.query),
        options: widget.options ?? widget.config,
      };
    }),
  };
}

export type { TimeRange };
