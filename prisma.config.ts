import { defineConfig } from 'prisma/config';

// The CLI is only used offline here (generate/validate); the service applies migrations itself.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
