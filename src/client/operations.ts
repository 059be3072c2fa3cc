import { graphql } from './generated/gql.js';

/** One batch of records of every family: one request, one transaction, one idempotency key. */
export const IngestDocument = graphql(`
  mutation InsightsClientIngest($idempotencyKey: String, $input: IngestInput!) {
    ingest(idempotencyKey: $idempotencyKey, input: $input) { count replayed }
  }
`);
