import type { CodegenConfig } from '@graphql-codegen/cli';

const scalars = { DateTime: 'string', JSON: 'unknown', ID: 'string' };

// Types the operations the tests send (written with `graphql(...)` from test/generated) against the committed
// schema.graphql, so a test that asks for a field that does not exist fails to type-check.
// The client (`insights/client`, src/client/) gets its own copy: its operations as plain strings (documentMode
// string), so at run time it needs neither the graphql package nor anything of the server.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: true,
  generates: {
    'test/generated/': {
      documents: ['test/**/*.ts', '!test/generated/**'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, importExtension: '.js', enumsAsTypes: true, scalars },
    },
    'src/client/generated/': {
      documents: ['src/client/**/*.ts', '!src/client/generated/**'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, importExtension: '.js', enumsAsTypes: true, documentMode: 'string', scalars },
    },
  },
};

export default config;
