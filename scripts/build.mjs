// Compiles src/ into dist/ (one JavaScript file per TypeScript file, no bundling), which `npm start` runs.
// `node scripts/build.mjs dist-<name>` writes that folder of the project root instead (tests use it).
// esbuild strips the types exactly as tsx does when running the sources, in a fraction of a second; type checking
// is `npm run typecheck`. dist/ mirrors src/, so paths taken relative to a module (prisma/migrations from
// src/db/migrate.ts) resolve the same from dist/.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = process.argv[2] ?? 'dist';
// One level below the root like src/, or paths taken relative to a module (../../prisma/migrations) would miss; and
// named dist…, since it is deleted first.
if (!/^dist[\w-]*$/.test(outdir)) throw new Error(`build: the output folder must be dist or dist-<name> in the project root, not ${outdir}`);
// Start clean, so a file moved or deleted in src/ leaves nothing behind.
rmSync(`${root}${outdir}`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/**/*.ts'],
  outbase: 'src',
  outdir,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  bundle: false,
  sourcemap: 'linked',
  logLevel: 'warning',
});
