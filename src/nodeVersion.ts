/**
 * The oldest Node.js the service runs on; keep it equal to `engines.node` in package.json (a test checks).
 * This module must stay free of imports: it runs before anything else is loaded.
 */
export const MINIMUM_NODE_VERSION = '20.19.0';

const parse = (version: string) => version.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10) || 0);

/** Null when `version` (e.g. process.versions.node) is at least the minimum; otherwise what to tell the operator. */
export function unsupportedNodeVersion(version: string, minimum = MINIMUM_NODE_VERSION): string | null {
  const have = parse(version);
  const need = parse(minimum);
  for (let i = 0; i < need.length; i += 1) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a > b) return null;
    if (a < b) {
      return (
        `Insights needs Node.js ${minimum} or newer; this is Node.js ${version.replace(/^v/, '')} (${process.execPath}).\n` +
        `Install Node.js ${minimum} or newer (any later 20.x, or 22 and up) and start again.\n`
      );
    }
  }
  return null;
}
