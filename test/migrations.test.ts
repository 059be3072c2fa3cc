import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/core/db/database.js';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../src/core/db/migrate.js';
import { sql } from '../src/core/db/sql.js';
import * as PrismaEnums from '../src/generated/prisma/enums.js';
import { getDatamodel } from '../src/generated/pothos-prisma-types.js';
import { createScratchDatabase, createScratchDirectory, type ScratchDatabase } from './support/databases.js';

const silent = pino({ level: 'silent' });

/** Every migration directory with the sha256 of its migration.sql, read straight from disk. */
const MIGRATION_DIRS = fs
  .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()
  .map((name) => ({
    name,
    checksum: createHash('sha256').update(fs.readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'))).digest('hex'),
  }));

const openPostgres = (url: string) => openDatabase({ url, poolSize: 4, dataDir: '' }, silent);

// ---------------------------------------------------------------------------------------------------------------
// The generated client's view of the data model. getDatamodel() (the Pothos types) has type/kind/isRequired/isList
// but no database names; the client's runtime data model has the @map/@@map names. Enum @@map names are in
// neither, so they are read from the schema file the client was generated from.

interface ModelField {
  name: string;
  column: string;
  type: string;
  kind: string;
  isRequired: boolean;
  isList: boolean;
}
interface Model {
  name: string;
  table: string;
  fields: ModelField[];
}
interface RuntimeModel {
  dbName: string | null;
  fields: { name: string; dbName?: string | null }[];
}

function enumDbNames(): Map<string, string> {
  const schema = fs.readFileSync(new URL('../prisma/schema.prisma', import.meta.url), 'utf8');
  const names = new Map<string, string>();
  for (const match of schema.matchAll(/^enum\s+(\w+)\s*\{([^}]*)\}/gm)) {
    const mapped = /@@map\(\s*"([^"]+)"\s*\)/.exec(match[2]!);
    names.set(match[1]!, mapped?.[1] ?? match[1]!);
  }
  return names;
}

function dataModel(db: Database): Model[] {
  const runtime = (db.prisma as unknown as { _runtimeDataModel: { models: Record<string, RuntimeModel> } })._runtimeDataModel;
  const { models } = getDatamodel().datamodel;
  expect(Object.keys(runtime.models).sort()).toEqual(Object.keys(models).sort());
  return Object.entries(models).map(([name, model]) => {
    const runtimeModel = runtime.models[name]!;
    return {
      name,
      table: runtimeModel.dbName ?? name,
      fields: model.fields.map((field) => {
        const runtimeField = runtimeModel.fields.find((candidate) => candidate.name === field.name);
        expect(runtimeField, `${name}.${field.name} in the client's runtime data model`).toBeDefined();
        return {
          name: field.name,
          column: runtimeField?.dbName ?? field.name,
          type: field.type,
          kind: field.kind,
          isRequired: field.isRequired,
          isList: field.isList,
        };
      }),
    };
  });
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  is_nullable: 'YES' | 'NO';
  data_type: string;
  udt_name: string;
}

const SCALAR_TYPES: Record<string, string[]> = {
  String: ['text', 'character varying', 'character', 'uuid'],
  BigInt: ['bigint'],
  Int: ['integer'],
  Float: ['double precision'],
  DateTime: ['timestamp with time zone'],
  Json: ['jsonb'],
  Boolean: ['boolean'],
  Decimal: ['numeric'],
  Bytes: ['bytea'],
};
const ARRAY_ELEMENT_UDTS: Record<string, string[]> = {
  String: ['_text', '_varchar', '_bpchar', '_uuid'],
  Int: ['_int4'],
  BigInt: ['_int8'],
  Float: ['_float8'],
};

/** Where the tables and columns in the database disagree with the client's data model. */
async function schemaDrift(db: Database, models: Model[]): Promise<string[]> {
  expect(models.length).toBeGreaterThan(0);
  const enumNames = enumDbNames();
  // Partitions of the record tables (<table>_pYYYYMMDD, <table>_default) are storage of their parent, not tables
  // of the data model: only the parent is compared.
  const columns = await db.query<ColumnRow>(sql`
    SELECT c.table_name, c.column_name, c.is_nullable, c.data_type, c.udt_name
    FROM information_schema.columns c
    JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = 'public'::regnamespace
    WHERE c.table_schema = 'public' AND NOT k.relispartition`);
  const problems: string[] = [];

  const tables = new Set(columns.map((column) => column.table_name));
  const modelTables = new Set(models.map((model) => model.table));
  for (const table of tables) {
    if (!modelTables.has(table) && table !== '_prisma_migrations') problems.push(`table ${table} is not in the data model`);
  }

  for (const model of models) {
    const tableColumns = columns.filter((column) => column.table_name === model.table);
    if (tableColumns.length === 0) {
      problems.push(`table ${model.table} (model ${model.name}) does not exist`);
      continue;
    }
    const known = new Set<string>();
    for (const field of model.fields) {
      if (field.kind !== 'scalar' && field.kind !== 'enum') continue; // relations have no column of their own
      known.add(field.column);
      const where = `${model.table}.${field.column} (${model.name}.${field.name}: ${field.type}${field.isList ? '[]' : ''}${field.isRequired ? '' : '?'})`;
      const column = tableColumns.find((candidate) => candidate.column_name === field.column);
      if (!column) {
        problems.push(`${where}: column missing`);
        continue;
      }
      // Prisma reads NULL in a scalar list as [], so list columns may be nullable (prisma migrate makes them so).
      if (!field.isList && (column.is_nullable === 'NO') !== field.isRequired) {
        problems.push(`${where}: is_nullable=${column.is_nullable}`);
      }
      if (field.isList) {
        const elements = field.kind === 'enum' ? [`_${enumNames.get(field.type) ?? field.type}`] : (ARRAY_ELEMENT_UDTS[field.type] ?? []);
        if (column.data_type !== 'ARRAY' || !elements.includes(column.udt_name)) {
          problems.push(`${where}: is ${column.data_type} (${column.udt_name}), expected ARRAY of ${elements.join('/')}`);
        }
      } else if (field.kind === 'enum') {
        const expected = enumNames.get(field.type) ?? field.type;
        if (column.data_type !== 'USER-DEFINED' || column.udt_name !== expected) {
          problems.push(`${where}: is ${column.data_type} (${column.udt_name}), expected enum ${expected}`);
        }
      } else if (!(SCALAR_TYPES[field.type] ?? []).includes(column.data_type)) {
        problems.push(`${where}: is ${column.data_type}, expected ${(SCALAR_TYPES[field.type] ?? ['?']).join('/')}`);
      }
    }
    for (const column of tableColumns) {
      if (!known.has(column.column_name)) problems.push(`${model.table}.${column.column_name}: column not in model ${model.name}`);
    }
  }

  // The database enums carry exactly the values the client knows.
  for (const [name, values] of Object.entries(PrismaEnums)) {
    if (typeof values !== 'object' || values === null) continue;
    const dbName = enumNames.get(name) ?? name;
    const labels = await db.query<{ label: string }>(sql`
      SELECT e.enumlabel AS label FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
      WHERE t.typname = ${dbName} ORDER BY e.enumsortorder`);
    if (JSON.stringify(labels.map((row) => row.label)) !== JSON.stringify(Object.values(values))) {
      problems.push(`enum ${dbName}: has [${labels.map((row) => row.label).join(', ')}], client has [${Object.values(values).join(', ')}]`);
    }
  }

  return problems;
}

/** The tables and columns the migrations created agree with the client's data model, and every model can be read. */
async function expectDatabaseMatchesDataModel(db: Database): Promise<void> {
  const models = dataModel(db);
  expect(await schemaDrift(db, models), 'the migrations and prisma/schema.prisma disagree').toEqual([]);

  // Every model reads through the client (a mismatch the catalogue cannot show, such as a type the adapter cannot
  // decode, fails here).
  const delegates = db.prisma as unknown as Record<string, { findMany(args: { take: number }): Promise<unknown[]> }>;
  for (const model of models) {
    const delegate = delegates[model.name.charAt(0).toLowerCase() + model.name.slice(1)];
    expect(delegate, `prisma.${model.name} delegate`).toBeDefined();
    expect(Array.isArray(await delegate!.findMany({ take: 1 }))).toBe(true);
  }
}

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  logs: string | null;
}

const migrationRows = (db: Database) =>
  db.query<MigrationRow>(sql`
    SELECT id, checksum, migration_name, finished_at, rolled_back_at, applied_steps_count, logs
    FROM "_prisma_migrations" ORDER BY migration_name`);

function expectRecordedOnce(rows: MigrationRow[]) {
  expect(rows.map((row) => ({ name: row.migration_name, checksum: row.checksum }))).toEqual(MIGRATION_DIRS);
  for (const row of rows) {
    expect(row.finished_at).toBeInstanceOf(Date);
    expect(row.rolled_back_at).toBeNull();
    expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
  }
}

describe('migrations on postgres', () => {
  let scratch: ScratchDatabase;
  let db: Database;
  let applied: string[];
  beforeAll(async () => {
    scratch = await createScratchDatabase('migrations');
    db = await openPostgres(scratch.url);
    applied = await migrate(db, silent);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('applies every migration directory in order on a fresh database', async () => {
    expect(MIGRATION_DIRS.length).toBeGreaterThan(0);
    expect(applied).toEqual(MIGRATION_DIRS.map((migration) => migration.name));
    expect((await readMigrations()).map(({ name, checksum }) => ({ name, checksum }))).toEqual(MIGRATION_DIRS);
  });

  it('produces the tables and columns of the Prisma data model', async () => {
    await expectDatabaseMatchesDataModel(db);
  });

  it('upgrades a database holding data: records move into day partitions, audit activities into the audit trail', async () => {
    const fresh = await createScratchDatabase('migrations_upgrade');
    const instance = await openPostgres(fresh.url);
    try {
      const all = await readMigrations();
      const before = all.filter((migration) => migration.name < '20261130100000');
      expect(before.length).toBeGreaterThan(0);
      await migrate(instance, silent, before);
      // Written as the previous version stored them: plain tables, audit entries as activities of "system".
      await instance.query(sql`
        INSERT INTO system_metrics (metric_name, metric_type, value, tags, host, "timestamp")
        VALUES ('cpu_usage', 'GAUGE', 10, '{"host":"h1"}', 'h1', '2025-03-04T05:06:07Z'), ('cpu_usage', 'GAUGE', 20, '{"host":"h1"}', 'h1', now())`);
      await instance.query(sql`
        INSERT INTO user_activities (user_id, activity_type, description, metadata, "timestamp") VALUES
          ('u1', 'login', NULL, NULL, now()),
          ('system', 'api_key.created', 'API key "x" created', '{"actorKeyId": null, "actorKeyName": "command line", "keyId": "k-1", "name": "x"}', now())`);
      const [{ last }] = (await instance.query<{ last: string }>(sql`SELECT max(id)::text AS last FROM system_metrics`)) as [{ last: string }];
      await migrate(instance, silent, all);
      const rows = await instance.query<{ partition: string; value: number }>(sql`
        SELECT tableoid::regclass::text AS partition, value FROM system_metrics ORDER BY value`);
      expect(rows).toEqual([
        { partition: 'system_metrics_p20250304', value: 10 },
        { partition: expect.stringMatching(/^system_metrics_p\d{8}$/), value: 20 },
      ]);
      // Ids go on from where they were.
      await instance.query(sql`INSERT INTO system_metrics (metric_name, metric_type, value, tags, "timestamp") VALUES ('cpu_usage', 'GAUGE', 30, '{}', now())`);
      const [{ next }] = (await instance.query<{ next: string }>(sql`SELECT max(id)::text AS next FROM system_metrics`)) as [{ next: string }];
      expect(BigInt(next)).toBeGreaterThan(BigInt(last));
      expect(await instance.query(sql`SELECT user_id FROM user_activities`)).toEqual([{ user_id: 'u1' }]);
      expect(await instance.query(sql`SELECT actor_name, action, target_type, target_id FROM audit_events`)).toEqual([
        { actor_name: 'command line', action: 'api_key.created', target_type: 'api_key', target_id: 'k-1' },
      ]);
      await expectDatabaseMatchesDataModel(instance);
    } finally {
      await instance.close();
      await fresh.drop();
    }
  });

  it('would notice a database that drifted from the data model', async () => {
    const fresh = await createScratchDatabase('migrations_drift');
    const instance = await openPostgres(fresh.url);
    try {
      await migrate(instance, silent);
      await instance.query(sql`ALTER TABLE api_keys ADD COLUMN forgotten integer`);
      await instance.query(sql`ALTER TABLE system_metrics ALTER COLUMN unit SET NOT NULL`);
      await instance.query(sql`ALTER TABLE user_metrics ALTER COLUMN value TYPE real`);
      await instance.query(sql`ALTER TABLE user_activities RENAME COLUMN user_agent TO agent`);
      await instance.query(sql`ALTER TABLE performance_metrics ALTER COLUMN metric_type TYPE text`);
      await instance.query(sql`CREATE TABLE stray (id int)`);
      const drift = await schemaDrift(instance, dataModel(instance));
      expect(drift).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^api_keys\.forgotten: column not in model ApiKey/),
          expect.stringMatching(/^system_metrics\.unit .*is_nullable=NO/),
          expect.stringMatching(/^user_metrics\.value .*is real, expected double precision/),
          expect.stringMatching(/^user_activities\.user_agent .*column missing/),
          expect.stringMatching(/^user_activities\.agent: column not in model/),
          expect.stringMatching(/^performance_metrics\.metric_type .*expected enum metric_type/),
          'table stray is not in the data model',
        ]),
      );
      expect(drift).toHaveLength(7);
    } finally {
      await instance.close();
      await fresh.drop();
    }
  });

  it('records each migration once, finished, with the sha256 of its file', async () => {
    expectRecordedOnce(await migrationRows(db));
  });

  it('applies nothing when run again', async () => {
    expect(await migrate(db, silent)).toEqual([]);
    const second = await openPostgres(scratch.url);
    try {
      expect(await migrate(second, silent)).toEqual([]);
    } finally {
      await second.close();
    }
    expectRecordedOnce(await migrationRows(db));
  });

  it('warns about, and does not re-apply, a migration edited after it ran', async () => {
    const lines: string[] = [];
    const capture = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const edited = (await readMigrations()).map((migration) => ({ ...migration, script: `${migration.script}\n-- edited`, checksum: 'e'.repeat(64) }));
    expect(await migrate(db, capture, edited)).toEqual([]);
    expect(lines.map((line) => JSON.parse(line) as { msg: string; migration: string })).toEqual(
      MIGRATION_DIRS.map((migration) => expect.objectContaining({ migration: migration.name, msg: expect.stringMatching(/edited/) })),
    );
    expectRecordedOnce(await migrationRows(db));
  });

  it('lets concurrent starters on a fresh database migrate it exactly once', async () => {
    const fresh = await createScratchDatabase('migrations_race');
    const instances = await Promise.all([1, 2, 3, 4].map(() => openPostgres(fresh.url)));
    try {
      const results = await Promise.allSettled(instances.map((instance) => migrate(instance, silent)));
      const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
      expect(failures).toEqual([]);
      const appliedLists = results.map((result) => (result.status === 'fulfilled' ? result.value : []));
      // One of them did the work; the others found nothing left to do.
      expect(appliedLists.filter((list) => list.length > 0)).toEqual([MIGRATION_DIRS.map((migration) => migration.name)]);
      expectRecordedOnce(await migrationRows(instances[0]!));
      await expectDatabaseMatchesDataModel(instances[3]!);
    } finally {
      await Promise.all(instances.map((instance) => instance.close()));
      await fresh.drop();
    }
  });

  it('leaves nothing behind when a migration fails', async () => {
    const fresh = await createScratchDatabase('migrations_fail');
    const instance = await openPostgres(fresh.url);
    try {
      const real = await readMigrations();
      const broken = [...real, { name: '99999999999999_broken', script: 'CREATE TABLE broken_one (id int); SELECT * FROM no_such_table;', checksum: 'x'.repeat(64) }];
      await expect(migrate(instance, silent, broken)).rejects.toThrow(/no_such_table/);
      // All pending migrations share one transaction: the good one is rolled back with the bad one.
      const tables = await instance.query<{ table_name: string }>(
        sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(tables).toEqual([]);
      expect(await migrate(instance, silent)).toEqual(MIGRATION_DIRS.map((migration) => migration.name));
      expectRecordedOnce(await migrationRows(instance));
    } finally {
      await instance.close();
      await fresh.drop();
    }
  });
});

describe('migrations on pglite', () => {
  it('produces the Prisma data model in a fresh data directory, once', async () => {
    const scratch = await createScratchDirectory('migrations');
    try {
      const db = await openDatabase({ url: undefined, poolSize: 1, dataDir: scratch.dir }, silent);
      try {
        expect(await migrate(db, silent)).toEqual(MIGRATION_DIRS.map((migration) => migration.name));
        await expectDatabaseMatchesDataModel(db);
        expectRecordedOnce(await migrationRows(db));
        expect(await migrate(db, silent)).toEqual([]);
      } finally {
        await db.close();
      }
    } finally {
      await scratch.remove();
    }
  });
});
