import { inject } from 'vitest';

/**
 * The compiled form of one of the service's entry points (`src/main.ts` → `<build>/main.js`), from the build
 * test/support/globalBuild.ts makes once per test run. Processes started from it are up in a second or two
 * where tsx, compiling the service first, needed many seconds on a busy machine.
 */
export function compiledEntry(source: string): string {
  const match = /^src\/(.+)\.ts$/.exec(source);
  if (!match) throw new Error(`not an entry point under src/: ${source}`);
  return `${inject('serviceBuild')}${match[1]}.js`;
}
