import { execute, getOperationAST, Kind, OperationTypeNode, type DocumentNode, type ExecutionArgs } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/**
 * graphql-js coerces variables by walking each value against its type: for a 1,000-record batch that walk was
 * the largest single cost of an ingest request. graphql-jit compiles an operation (its variable coercion
 * included) into plain JavaScript once, and runs the compiled form for every later request with the same
 * document (yoga's parser cache hands back the same document object for the same query text).
 *
 * Only the operations `compiles` picks are compiled (the write mutations); everything else runs on graphql-js,
 * and so does every request whose variables are refused (see below).
 */
export function compiledExecute(compiles: (fieldName: string) => boolean): typeof execute {
  // Per document and operation name: 'seen' after a first run, then the compiled operation (or null when it is
  // not one to compile). Compiling costs milliseconds, so a document is compiled at its second run: a caller
  // sending a new document every time gets graphql-js, and cannot make the server compile on every request.
  const cache = new WeakMap<DocumentNode, Map<string | null, CompiledQuery | null | 'seen'>>();

  const compiledFor = (args: ExecutionArgs): CompiledQuery | null => {
    const name = args.operationName ?? null;
    let byName = cache.get(args.document);
    if (!byName) {
      byName = new Map();
      cache.set(args.document, byName);
    }
    const known = byName.get(name);
    if (known === undefined) {
      byName.set(name, 'seen');
      return null;
    }
    if (known !== 'seen') return known;
    let compiled: CompiledQuery | null = null;
    const operation = getOperationAST(args.document, name);
    const eligible =
      operation?.operation === OperationTypeNode.MUTATION &&
      operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && compiles(selection.name.value));
    if (eligible) {
      const result = compileQuery(args.schema, args.document, name ?? undefined);
      compiled = isCompiledQuery(result) ? result : null;
    }
    byName.set(name, compiled);
    return compiled;
  };

  return (args) => {
    const compiled = compiledFor(args);
    if (!compiled) return execute(args);
    const result = compiled.query(args.rootValue, args.contextValue, args.variableValues ?? {}) as ReturnType<typeof execute>;
    // Variables that do not fit their types (errors and no data): graphql-js says so better, naming the item
    // by its path (`at "input[1].value"`) where graphql-jit names only the innermost field. Such requests are
    // refused and rare, so they pay for a second coercion.
    if (!(result instanceof Promise) && !('data' in result) && result.errors) return execute(args);
    return result;
  };
}
