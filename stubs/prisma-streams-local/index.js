// Only `prisma dev` (a local Prisma Postgres server) imports this package; Insights does not use it.
export async function startLocalDurableStreamsServer() {
  throw new Error('`prisma dev` is not available in this project: @prisma/streams-local is replaced by a stub (package.json overrides) because it needs Node.js 22.');
}
