import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import { Linter, type Rule } from 'eslint';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../src/schema/index.js';

// The schema's own lint: every type, field, argument, input field and enum value described in sentences, the
// Relay connection shape, the naming conventions and no unreachable types. It lints the SDL printed from the
// Pothos schema, which test/schema.test.ts keeps equal to schema.graphql, so the lines reported are that file's.

const FILE = 'schema.graphql';

/** A description is one or more sentences: it starts with a capital letter and ends with . ! or ?. */
const descriptionSentences: Rule.RuleModule = {
  meta: {
    type: 'suggestion',
    docs: { description: 'Descriptions are sentences: they start with a capital letter and end with a full stop.' },
    schema: [],
  },
  create(context) {
    const check = (node: DescribedNode) => {
      const description = node.description;
      if (!description) return;
      const text = description.value.trim();
      const problems = [
        /^\p{Lu}/u.test(text) ? null : 'start with a capital letter',
        /[.!?]["'`)]*$/u.test(text) ? null : 'end with a full stop',
      ].filter((problem) => problem !== null);
      if (problems.length === 0) return;
      context.report({
        node: description as unknown as Rule.Node,
        message: `The description of ${coordinate(node)} should ${problems.join(' and ')}: "${abbreviate(text)}"`,
      });
    };
    return Object.fromEntries(DESCRIBED_KINDS.map((kind) => [kind, check])) as Rule.RuleListener;
  },
};

interface DescribedNode {
  kind: string;
  name?: { value: string };
  description?: { value: string } | null;
  parent?: DescribedNode;
}

const DESCRIBED_KINDS = [
  'SchemaDefinition',
  'ScalarTypeDefinition',
  'ObjectTypeDefinition',
  'InterfaceTypeDefinition',
  'UnionTypeDefinition',
  'EnumTypeDefinition',
  'InputObjectTypeDefinition',
  'FieldDefinition',
  'InputValueDefinition',
  'EnumValueDefinition',
  'DirectiveDefinition',
];

/** Names a schema element the way GraphQL schema coordinates do: Type, Type.field, Type.field(arg:), @directive. */
function coordinate(node: DescribedNode): string {
  const name = node.name?.value ?? 'schema';
  const parent = node.parent;
  if (node.kind === 'DirectiveDefinition') return `@${name}`;
  if (node.kind === 'InputValueDefinition' && parent?.kind === 'FieldDefinition') return `${coordinate(parent)}(${name}:)`;
  if (node.kind === 'InputValueDefinition' && parent?.kind === 'DirectiveDefinition') return `${coordinate(parent)}(${name}:)`;
  return parent?.name ? `${parent.name.value}.${name}` : name;
}

const abbreviate = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}...` : text);

/**
 * The rules, with their options. Left off on purpose: relay-edge-types' `shouldImplementNode` (records are not
 * Relay Nodes: there is no `node(id:)` query, ids are per family) and `listTypeCanWrapOnlyEdgeType` (small,
 * bounded results such as apiKeys, stats and trends are plain lists by design, which the Relay spec allows);
 * `input-name` (record mutations take the family's shared input type, e.g. ApplicationMetricInput for both
 * recordApplicationMetric and recordApplicationMetrics, not one `<mutation>Input` type each).
 */
const SCHEMA_LINT_RULES: Linter.RulesRecord = {
  '@graphql-eslint/require-description': [
    'error',
    { types: true, FieldDefinition: true, InputValueDefinition: true, EnumValueDefinition: true, DirectiveDefinition: true },
  ],
  'insights/description-sentences': 'error',
  '@graphql-eslint/relay-connection-types': 'error',
  '@graphql-eslint/relay-edge-types': ['error', { withEdgeSuffix: true, shouldImplementNode: false, listTypeCanWrapOnlyEdgeType: false }],
  '@graphql-eslint/relay-page-info': 'error',
  '@graphql-eslint/relay-arguments': ['error', { includeBoth: true }],
  '@graphql-eslint/naming-convention': [
    'error',
    {
      types: 'PascalCase',
      FieldDefinition: 'camelCase',
      InputValueDefinition: 'camelCase',
      EnumValueDefinition: 'UPPER_CASE',
      DirectiveDefinition: 'camelCase',
      // Input types are records to store (…Input) or conditions to match (…Filter); output types are neither.
      InputObjectTypeDefinition: { style: 'PascalCase', requiredPattern: /(Input|Filter)$/ },
      ObjectTypeDefinition: { style: 'PascalCase', forbiddenPatterns: [/(Input|Filter)$/] },
    },
  ],
  '@graphql-eslint/no-unreachable-types': 'error',
  '@graphql-eslint/require-deprecation-reason': 'error',
};

/** Lints SDL as a schema file; each problem as `schema.graphql:line:column  rule  message`. */
function lintSchema(sdl: string): { ruleId: string; text: string }[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(
    sdl,
    [
      {
        files: ['**/*.graphql'],
        languageOptions: { parser: graphqlPlugin.parser, parserOptions: { schemaSdl: sdl } },
        plugins: {
          '@graphql-eslint': graphqlPlugin as never,
          insights: { rules: { 'description-sentences': descriptionSentences } },
        },
        rules: SCHEMA_LINT_RULES,
      },
    ],
    { filename: FILE },
  );
  return messages.map((message) => {
    const ruleId = message.ruleId ?? (message.fatal ? 'fatal' : 'unknown');
    return { ruleId, text: `${FILE}:${message.line}:${message.column}  ${ruleId.replace('@graphql-eslint/', '')}  ${message.message}` };
  });
}

describe('schema lint', () => {
  it('finds nothing wrong with the schema', () => {
    const problems = lintSchema(printedSchema()).map((problem) => problem.text);
    expect(
      problems,
      `${problems.length} schema lint problem(s); describe each element where it is defined (Pothos \`description\`), ` +
        'then run `npm run schema:print`:\n' +
        problems.join('\n'),
    ).toEqual([]);
  });

  // Every rule must still bite: a schema breaking each one once is reported by each one.
  it('reports each kind of problem', () => {
    const bad = `
      """The roots."""
      type Query {
        """Items, paged."""
        itemConnection(first: Int, after: String): ItemsConnection!
        """Old."""
        old: Int @deprecated
        """lower case and no full stop"""
        sloppy: Int
        Bad_Name: Int
      }
      """A page."""
      type ItemsConnection {
        """The items."""
        edges: [Item!]!
        """The page."""
        pageInfo: PageInfo
      }
      """An item."""
      type Item {
        """Its name."""
        name: String!
      }
      type PageInfo {
        """Whether there is a next page."""
        hasNextPage: Boolean!
      }
      """A filter."""
      input Criteria {
        """A value."""
        value: Int
      }
      """Nobody uses it."""
      enum Unused {
        """A value."""
        lower_value
      }
    `;
    const problems = lintSchema(bad);
    const fired = new Set(problems.map((problem) => problem.ruleId));
    expect([...fired].sort(), problems.map((problem) => problem.text).join('\n')).toEqual(Object.keys(SCHEMA_LINT_RULES).sort());
    // Problems name what is wrong and where.
    expect(problems.map((problem) => problem.text)).toContainEqual(
      expect.stringMatching(/^schema\.graphql:\d+:\d+ {2}insights\/description-sentences {2}The description of Query\.sloppy should start with a capital letter and end with a full stop/),
    );
  });
});
