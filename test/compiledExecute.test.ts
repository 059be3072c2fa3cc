import {
  buildSchema,
  GraphQLError,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  type ExecutionResult,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { compiledExecute } from '../src/http/compiledExecute.js';

// The hot write mutations run compiled by graphql-jit: the answers must be those graphql-js gives, bad
// variables must still be named by their path, and only the chosen operations are compiled, at their second run.

const schema = buildSchema(`
  input Point { name: String!, value: Float!, tags: [String!] }
  type Stored { count: Int!, names: [String!]!, total: Float! }
  type Query { hello: String }
  type Mutation { recordPoints(input: [Point!]!): Stored!, reject(input: [Point!]!): Stored, other: String }
`);
// Resolvers on the fields, as Pothos builds them (graphql-jit does not call functions of the root value).
const resolvers: Record<string, (root: unknown, args: { input: { name: string; value: number }[] }) => unknown> = {
  recordPoints: (_root, { input }) => ({
    count: input.length,
    names: input.map((point) => point.name),
    total: input.reduce((sum, point) => sum + point.value, 0),
  }),
  reject: () => {
    throw new GraphQLError('input[1].value: must be between 0 and 1', { extensions: { code: 'BAD_USER_INPUT' } });
  },
  other: () => 'other',
};
for (const [name, field] of Object.entries(schema.getMutationType()?.getFields() ?? {})) field.resolve = resolvers[name];
const rootValue = {};

describe('compiled execution of chosen mutations', () => {
  it('compiles a chosen operation at its second run and answers as graphql-js does, bad variables included', async () => {
    const asked: string[] = [];
    const run = compiledExecute((field) => {
      asked.push(field);
      return field === 'recordPoints' || field === 'reject';
    });
    const document = parse('mutation Write($input: [Point!]!) { recordPoints(input: $input) { count names total } }');
    const input = [{ name: 'a', value: 1.5, tags: ['x'] }, { name: 'b', value: 2, tags: null }, { name: 'c', value: -0.5 }];
    const answers: ExecutionResult[] = [];
    for (let round = 0; round < 3; round++) {
      answers.push(await run({ schema, document, rootValue, variableValues: { input } }));
      // Compiled once, at the second run; the first ran on graphql-js.
      expect(asked).toEqual(round === 0 ? [] : ['recordPoints']);
    }
    expect(answers[0]).toEqual({ data: { recordPoints: { count: 3, names: ['a', 'b', 'c'], total: 3 } } });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);

    // A value of the wrong type: refused with graphql-js's message, which names the item by its path.
    const wrong = await run({ schema, document, rootValue, variableValues: { input: [{ name: 'a', value: 1 }, { name: 'b', value: 'x' }] } });
    expect('data' in wrong).toBe(false);
    expect(wrong.errors?.map((error) => error.message)).toEqual([
      'Variable "$input" got invalid value "x" at "input[1].value"; Float cannot represent non numeric value: "x"',
    ]);
    // A single object where a list is expected is coerced to a list of one, as graphql-js does.
    expect(await run({ schema, document, rootValue, variableValues: { input: { name: 'solo', value: 4 } } })).toEqual({
      data: { recordPoints: { count: 1, names: ['solo'], total: 4 } },
    });
  });

  it('runs the root fields of a compiled mutation one after the other, as the spec requires', async () => {
    const events: string[] = [];
    const slow = new GraphQLObjectType({
      name: 'Mutation',
      fields: {
        write: {
          type: GraphQLString,
          args: { label: { type: new GraphQLNonNull(GraphQLString) }, ms: { type: new GraphQLNonNull(GraphQLInt) } },
          resolve: async (_root, { label, ms }: { label: string; ms: number }) => {
            events.push(`start ${label}`);
            await new Promise((resolve) => setTimeout(resolve, ms));
            events.push(`end ${label}`);
            return label;
          },
        },
      },
    });
    const serialSchema = new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }), mutation: slow });
    const run = compiledExecute((field) => field === 'write');
    const document = parse('mutation { first: write(label: "first", ms: 30) second: write(label: "second", ms: 1) }');
    for (let round = 0; round < 2; round++) {
      events.length = 0;
      expect(await run({ schema: serialSchema, document })).toEqual({ data: { first: 'first', second: 'second' } });
      expect(events).toEqual(['start first', 'end first', 'start second', 'end second']);
    }
  });

  it('keeps errors a resolver throws, with their extensions', async () => {
    const run = compiledExecute((field) => field === 'reject');
    const document = parse('mutation($input: [Point!]!) { reject(input: $input) { count } }');
    for (let round = 0; round < 2; round++) {
      const answer = await run({ schema, document, rootValue, variableValues: { input: [{ name: 'a', value: 1 }] } });
      expect(answer.data).toEqual({ reject: null });
      expect(answer.errors?.map((error) => [error.message, error.extensions, error.path])).toEqual([
        ['input[1].value: must be between 0 and 1', { code: 'BAD_USER_INPUT' }, ['reject']],
      ]);
    }
  });

  it('leaves other operations to graphql-js: never asks to compile a query, or a mutation with an unchosen field', async () => {
    const asked: string[] = [];
    const run = compiledExecute((field) => {
      asked.push(field);
      return field === 'recordPoints';
    });
    const query = parse('{ hello }');
    const mixed = parse('mutation { other recordPoints(input: []) { count } }');
    for (let round = 0; round < 3; round++) {
      expect(await run({ schema, document: query, rootValue: { hello: 'hi' } })).toEqual({ data: { hello: 'hi' } });
      expect(await run({ schema, document: mixed, rootValue })).toEqual({
        data: { other: 'other', recordPoints: { count: 0 } },
      });
    }
    // The mixed mutation was looked at once (its first field is not chosen), then remembered as not compiled.
    expect(asked).toEqual(['other']);
  });
});
