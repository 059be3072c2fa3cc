import {
  getNamedType,
  getVariableValues,
  isInterfaceType,
  isObjectType,
  isUnionType,
  Kind,
  OperationTypeNode,
  type DocumentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import { codedError } from '../core/errors.js';
import type { ServerContext } from './serverContext.js';

/** What one record of a connection page costs on top of its fields: reading and sending a row, not the columns, dominates. */
export const RECORD_COST = 10;
/** The page a connection returns when neither `first` nor `last` is given, and the most it ever returns. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;

const isPaged = (field: { args: readonly { name: string }[] }) => field.args.some((arg) => arg.name === 'first' || arg.name === 'last');

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
  if (!isPaged(field) || !isObjectType(type) || !('edges' in type.getFields())) return 1 + childComplexity;
  const page = pageArgument(args.first) ?? pageArgument(args.last) ?? DEFAULT_PAGE;
  return 1 + page * (RECORD_COST + childComplexity);
};

/** Whether any field with `first`/`last` can be reached from `root`: only then can variables change a cost. */
function reachesPagedField(schema: GraphQLSchema, root: GraphQLNamedType | null | undefined): boolean {
  const seen = new Set<string>();
  const visit = (type: GraphQLNamedType): boolean => {
    if (seen.has(type.name)) return false;
    seen.add(type.name);
    if (isUnionType(type)) return type.getTypes().some(visit);
    if (!isObjectType(type) && !isInterfaceType(type)) return false;
    if (isInterfaceType(type) && schema.getPossibleTypes(type).some(visit)) return true;
    return Object.values(type.getFields()).some((field) => isPaged(field) || visit(getNamedType(field.type)));
  };
  return root ? visit(root) : false;
}

const pagedRootsBySchema = new WeakMap<GraphQLSchema, Set<OperationTypeNode>>();

/**
 * The operation types whose results can hold a page. The others (in this schema mutations and subscriptions, whose
 * results hold no connection) cost what their document holds, which the token limit bounds, and are not costed: costing
 * walks every argument, and a 1,000-record ingest would pay for coercing its variables once more.
 */
function pagedRoots(schema: GraphQLSchema): Set<OperationTypeNode> {
  let roots = pagedRootsBySchema.get(schema);
  if (!roots) {
    const candidates: [OperationTypeNode, GraphQLNamedType | null | undefined][] = [
      [OperationTypeNode.QUERY, schema.getQueryType()],
      [OperationTypeNode.MUTATION, schema.getMutationType()],
      [OperationTypeNode.SUBSCRIPTION, schema.getSubscriptionType()],
    ];
    roots = new Set(candidates.filter(([, root]) => reachesPagedField(schema, root)).map(([operation]) => operation));
    pagedRootsBySchema.set(schema, roots);
  }
  return roots;
}

/**
 * The cost of the operation that will run, or the reason none can be computed; undefined when it needs no costing
 * or cannot run (unknown or ambiguous operation, variables that do not coerce: execution refuses those itself
 * before any resolver runs).
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: unknown, operationName: string | null | undefined): number | Error | undefined {
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((candidate) => candidate.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation || !pagedRoots(schema).has(operation.operation)) return undefined;
  const inputs = (variables && typeof variables === 'object' ? variables : {}) as Record<string, unknown>;
  try {
    // Only the operation that runs is costed: the library sums every operation when given no name.
    const single: DocumentNode = { ...document, definitions: document.definitions.filter((definition) => definition.kind !== Kind.OPERATION_DEFINITION || definition === operation) };
    return getComplexity({ schema, query: single, variables: inputs, estimators: [costEstimator] });
  } catch (error) {
    if (getVariableValues(schema, operation.variableDefinitions ?? [], inputs).errors) return undefined;
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
