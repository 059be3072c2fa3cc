import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSchema } from '../src/schema/index.js';
import { postGraphQL } from './support/rawHttp.js';
import { startTestServer, type TestServer } from './support/server.js';

// GraphiQL's documentation explorer and codegen know the schema only from introspection over HTTP. The schema
// they rebuild from it must be the linted one, descriptions included: nothing on the way (hardening plugins,
// masking) may drop or change them.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer('postgres', { label: 'schema_introspection' });
});
afterAll(async () => {
  await server?.destroy();
});

describe('introspection', () => {
  it('gives an ADMIN key the whole schema with every description, as schema.graphql has it', async () => {
    const response = await postGraphQL(server.url, { query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true }) });
    expect(response.status, response.text).toBe(200);
    expect(response.json?.errors).toBeUndefined();
    const seen = buildClientSchema(response.json?.data as IntrospectionQuery);
    expect(`${printSchema(lexicographicSortSchema(seen))}\n`).toBe(printedSchema());
    // And the explorer's first stops, spelled out.
    expect(seen.getType('PageInfo')?.description).toMatch(/^Where a page sits in its list/);
    const runs = seen.getQueryType()?.getFields().jobRuns;
    expect(runs?.args.find((arg) => arg.name === 'first')?.description).toMatch(/50 when neither first nor last is given/);
    expect(seen.getMutationType()?.getFields().runJob?.description).toMatch(/Needs an API key with the ADMIN scope\.$/);
  });
});
