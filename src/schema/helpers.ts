import { invalidInput } from '../core/input.js';

// Helpers every module's schema file may use: connection sizes, id and cursor checks, field extensions.

/** Relay connections: `first`/`last` default to 50 and may ask for at most 1,000. */
export const CONNECTION_SIZES = { defaultSize: 50, maxSize: 1000 } as const;

const INT8_MAX = 9_223_372_036_854_775_807n;

/** Record ids are bigint identities shown as decimal strings; anything else is a caller error. */
export function parseRecordId(id: string, argument = 'id'): bigint | null {
  if (!/^\d{1,19}$/.test(id)) throw invalidInput(argument, 'must be a record id (a positive whole number)');
  const value = BigInt(id);
  return value > INT8_MAX ? null : value;
}

/**
 * Checks `after`/`before` before they reach Prisma. Pothos decodes any well-formed cursor, but ours are always
 * a bigint id (`GPC:I:<digits>`); a cursor of another type would otherwise fail deep inside the query.
 */
export function assertIdCursors(args: { after?: string | null; before?: string | null }): void {
  for (const argument of ['after', 'before'] as const) {
    const cursor = args[argument];
    if (cursor === null || cursor === undefined) continue;
    const decoded = Buffer.from(cursor, 'base64').toString('utf8');
    const match = /^GPC:I:(\d{1,19})$/.exec(decoded);
    if (!match || BigInt(match[1] as string) > INT8_MAX) throw invalidInput(argument, 'must be a cursor returned by this connection');
  }
}

/** Stored rows come back from raw SQL with text ids; the Prisma object types expect the model's bigint. */
export function toModel<Row extends { id: string }>(row: Row): Omit<Row, 'id'> & { id: bigint } {
  return { ...row, id: BigInt(row.id) };
}

/**
 * Marks a subscription field as a pure event stream (no per-subscriber first value): identical subscriptions
 * to it (same operation, variables and key) may share one execution across sockets. The WebSocket transport
 * reads this from the schema; it names no field itself.
 */
export const SHAREABLE = { extensions: { shareable: true } } as const;
