import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL served from our own npm dependencies, so that it works without internet access. graphql-yoga's built-in
 * page loads its CSS, script and Monaco editor workers from a public CDN, and on a network without one it shows
 * nothing but "Loading __TITLE__...". @graphql-yoga/render-graphiql ships the same GraphiQL build as JavaScript
 * strings (script, CSS with its fonts inlined, the three Monaco workers, a favicon); its own renderer inlines all of
 * them (9 MB) into every page. Here the page is small and refers to them as static files under GRAPHIQL_ASSETS_PATH, which
 * browsers cache.
 *
 * The files are public: they are byte for byte the contents of a public npm package, with nothing about this
 * service in them (no schema, no configuration, no key), so they are served without authentication or rate
 * limiting. The page itself (GET /graphql) stays behind the ADMIN sign-in in handler.ts, and so do the requests the
 * page makes.
 */

const execFileAsync = promisify(execFile);
const requireHere = createRequire(import.meta.url);
const MODULE = '@graphql-yoga/render-graphiql';
// Resolves to <package>/cjs/index.js; its package.json is one folder up (cjs/ has a package.json of its own).
const PACKAGE_DIR = path.join(path.dirname(requireHere.resolve(MODULE)), '..');
const VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;

/** The versioned folder of the assets: a new package version gets new URLs, so they can be cached forever. */
export const GRAPHIQL_ASSETS_PATH = `/graphiql/${VERSION}/`;

/** Each served file, and the export of `@graphql-yoga/render-graphiql/graphiql` it comes from. */
const FILES = {
  'graphiql.js': { from: 'js', type: 'text/javascript; charset=utf-8' },
  'graphiql.css': { from: 'css', type: 'text/css; charset=utf-8' },
  'editor.worker.js': { from: 'editorWorkerService', type: 'text/javascript; charset=utf-8' },
  'json.worker.js': { from: 'jsonWorker', type: 'text/javascript; charset=utf-8' },
  'graphql.worker.js': { from: 'graphqlWorker', type: 'text/javascript; charset=utf-8' },
  'favicon.ico': { from: 'favicon', type: 'image/x-icon' },
} as const;
type FileName = keyof typeof FILES;

interface Asset {
  /** gzip-compressed, except the favicon (already compressed as an image). */
  body: Buffer;
  gzipped: boolean;
  etag: string;
}

let loading: Promise<Map<FileName, Asset>> | undefined;

// Run by a short-lived child process: prints every file of FILES, gzipped (favicon: decoded), as base64 in JSON.
const EXTRACT = `const { gzipSync } = require('node:zlib');
const strings = require(process.env.INSIGHTS_GRAPHIQL_MODULE);
const out = {};
for (const [name, { from }] of Object.entries(JSON.parse(process.env.INSIGHTS_GRAPHIQL_FILES))) {
  const value = strings[from];
  if (typeof value !== 'string') throw new Error('no export ' + from + ' in ' + process.env.INSIGHTS_GRAPHIQL_MODULE);
  const bytes = name === 'favicon.ico' ? Buffer.from(value.slice(value.indexOf(',') + 1), 'base64') : gzipSync(value);
  out[name] = bytes.toString('base64');
}
process.stdout.write(JSON.stringify(out));`;

/**
 * Loads the files once, on first use. As JavaScript strings they take ~20 MB, and reading them in this process
 * (even in a worker thread) left ~45 MB more resident for good; so a child process reads and gzips them, and only
 * the compressed bytes (~3 MB) come back. A service whose GraphiQL is never opened pays nothing.
 */
function loadAssets(): Promise<Map<FileName, Asset>> {
  loading ??= execFileAsync(process.execPath, ['-e', EXTRACT], {
    env: {
      ...process.env,
      INSIGHTS_GRAPHIQL_MODULE: requireHere.resolve(`${MODULE}/graphiql`),
      INSIGHTS_GRAPHIQL_FILES: JSON.stringify(FILES),
    },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  }).then(
    ({ stdout }) => {
      const files = JSON.parse(stdout) as Record<FileName, string>;
      return new Map(
        (Object.keys(FILES) as FileName[]).map((name) => {
          const body = Buffer.from(files[name], 'base64');
          const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
          return [name, { body, gzipped: name !== 'favicon.ico', etag }];
        }),
      );
    },
    (error: unknown) => {
      // Tried again on the next request.
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/** JSON for a <script> element: nothing in it can close the element or end a JavaScript string early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

/** graphql-yoga's `renderGraphiQL`: the page, with every asset from GRAPHIQL_ASSETS_PATH on this server. */
export function renderGraphiQL(options: GraphiQLOptions = {}): string {
  // Start loading the files now, so that they are ready when the browser asks for them a moment later.
  loadAssets().catch(() => undefined);
  const assets = GRAPHIQL_ASSETS_PATH;
  const title = options.title ?? 'GraphiQL';
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(title)}</title>
    <link rel="icon" href="${assets}favicon.ico" />
    <link rel="stylesheet" href="${assets}graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      self.MonacoEnvironment = {
        globalAPI: false,
        getWorkerUrl: function (moduleId, label) {
          var files = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };
          return new URL(${scriptJson(assets)} + (files[label] || files.editorWorkerService), location.href).href;
        },
      };
    </script>
    <script src="${assets}graphiql.js"></script>
    <script>
      YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${scriptJson(options)});
    </script>
  </body>
</html>
`;
}

/** Answers GET/HEAD under GRAPHIQL_ASSETS_PATH: one of FILES, or 404. */
export async function serveGraphiQLAsset(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('Method not allowed\n');
    return;
  }
  const name = pathname.slice(GRAPHIQL_ASSETS_PATH.length);
  if (!Object.hasOwn(FILES, name)) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('Not found\n');
    return;
  }
  const asset = (await loadAssets()).get(name as FileName)!;
  const headers: Record<string, string> = {
    'content-type': FILES[name as FileName].type,
    'cache-control': 'public, max-age=31536000, immutable',
    etag: asset.etag,
    'x-content-type-options': 'nosniff',
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  let body = asset.body;
  if (asset.gzipped) {
    headers.vary = 'accept-encoding';
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) headers['content-encoding'] = 'gzip';
    else body = gunzipSync(body);
  }
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
