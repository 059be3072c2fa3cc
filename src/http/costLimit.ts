import { getVariableValues, getNamedType, isObjectType, Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import { codedError } from '../core/errors.js';
import type { ServerContext } from './serverContext.js';

/** What one record of a connection page costs on top of its fields: reading and sending a row, not the columns, dominates. */
export const RECORD_COST = 10;
/** The page a connection returns when neither `first` nor `last` is given, and the most it ever returns. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;

const pageArgument = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? Math.min(Math.max(value, 0), MAX_PAGE) : undefined);

/**
 * A field costs 1 plus what it selects. A Relay connection (a field with `first`/`last` returning a type with
 * `edges`) costs 1 plus, for every record its page may hold, RECORD_COST and its selection, with the page read
 * from the arguments as executed (variables included) and clamped as the resolvers clamp it. Introspection
 * costs nothing here: it is ADMIN-only and bounded by the depth, alias and token limits.
 */
export const costEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (field.name.startsWith('__')) return 0;
  const type = getNamedType(field.type);
  const paged = field.args.some((arg) => arg.name === 'first' || arg.name === 'last');
  if (!paged || !isObjectType(type) || !('edges' in type.getFields())) return 1 + childComplexity;
  const page = pageArgument(args.first) ?? pageArgument(args.last) ?? DEFAULT_PAGE;
  return 1 + page * (RECORD_COST + childComplexity);
};

/** The cost of the operation that will run, or the reason none can be computed; undefined when the variables are invalid. */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: unknown, operationName: string | null | undefined): number | Error | undefined {
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((candidate) => candidate.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  // Execution refuses these itself (unknown or ambiguous operation, variables that do not coerce) before any resolver runs.
  if (!operation) return undefined;
  const inputs = (variables && typeof variables === 'object' ? variables : {}) as Record<string, unknown>;
  if (getVariableValues(schema, operation.variableDefinitions ?? [], inputs).errors) return undefined;
  try {
    // Only the operation that runs is costed: the library sums every operation when given no name.
    const single: DocumentNode = { ...document, definitions: document.definitions.filter((definition) => definition.kind !== Kind.OPERATION_DEFINITION || definition === operation) };
    return getComplexity({ schema, query: single, variables: inputs, estimators: [costEstimator] });
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * The cost limit, counted with the request's variables: `systemMetrics(first: $n)` costs what it will return.
 * It runs when the operation is about to execute (HTTP, SSE and WebSocket alike), since validation results are
 * cached per document and never see variables. A refusal is a validation error (400) and nothing runs.
 */
export function useCostLimit(maxCost: number): Plugin<ServerContext> {
  const check = (args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: unknown; operationName?: string | null }) => {
    const cost = operationCost(args.schema, args.document, args.variableValues, args.operationName);
    if (cost instanceof Error) {
      return codedError('GRAPHQL_VALIDATION_FAILED', `Query cost could not be computed: ${cost.message}`, { maxCost });
    }
    if (cost === undefined || cost <= maxCost) return undefined;
    return codedError(
      'GRAPHQL_VALIDATION_FAILED',
      `Query cost limit of ${maxCost} exceeded, found ${cost} (variables included): each record a list may return costs ${RECORD_COST} plus 1 per field selected on it; ask for smaller pages (first/last) or fewer lists.`,
      { cost, maxCost },
    );
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = check(args);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = check(args);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}
