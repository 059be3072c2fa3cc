/**
 * The service's entry point (`npm start` runs `node dist/start.js`). It refuses an unsupported Node.js before
 * anything else is loaded: the service's modules are only imported, dynamically, once the version is known to
 * be good, so an old Node.js gets this message instead of a syntax or link error from some dependency.
 */
import { unsupportedNodeVersion } from './nodeVersion.js';

const problem = unsupportedNodeVersion(process.versions.node);
if (problem) {
  process.stderr.write(problem);
  process.exit(1);
}
// `npm start` runs the service for real: unless told otherwise, libraries take their production paths (graphql-js
// skips a development-only check on every value it coerces, about 5 % of the CPU of a large batch write).
process.env.NODE_ENV ??= 'production';
await import('./main.js');
