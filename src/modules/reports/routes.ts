import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { HttpRoute } from '../../core/module.js';
import type { Services } from '../../core/module.js';
import { exportChunks, ExportInputError, parseExportRequest } from './export.js';
import { REPORT_FORMATS, type ReportFormat, type ReportService } from './service.js';

// GET /reports/<id>.html|.csv|.json (a report's stored artifacts) and GET /export (records by date), both for
// keys with READ, sent as Bearer or as Basic (a browser's sign-in prompt, the key as password).

const DOWNLOAD = /^\/reports\/([^/]*)$/;
const ARTIFACT = /^(\d{1,18})\.(html|csv|json)$/;

/** At most this many exports stream at once per instance (each holds a database connection of its own). */
export const MAX_CONCURRENT_EXPORTS = 4;

const contentDisposition = (kind: 'inline' | 'attachment', fileName: string) =>
  `${kind}; filename="${fileName.replace(/[^\w.-]/g, '_')}"`;

export function downloadRoute(reports: ReportService): HttpRoute {
  return {
    method: 'GET',
    path: DOWNLOAD,
    async handle(req, res, context) {
      if (!(await context.admit('READ'))) return;
      const match = ARTIFACT.exec(DOWNLOAD.exec((req.url ?? '').split('?')[0] ?? '')?.[1] ?? '');
      if (!match) {
        context.fail('NOT_FOUND', `No such download: use /reports/<id>.html, /reports/<id>.csv or /reports/<id>.json`);
        return;
      }
      const [, id, format] = match as unknown as [string, string, ReportFormat];
      const report = await reports.get(id);
      if (!report) {
        context.fail('NOT_FOUND', `No report has id ${id}`);
        return;
      }
      if (report.status !== 'READY') {
        context.fail('NOT_FOUND', `Report ${id} is ${report.status}: its files exist once it is READY${report.error ? ` (last error: ${report.error})` : ''}`, {
          status: report.status,
        });
        return;
      }
      const artifact = await reports.artifact(id, format);
      if (!artifact) {
        context.fail('NOT_FOUND', `Report ${id} has no ${format} file (available: ${REPORT_FORMATS.join(', ')})`);
        return;
      }
      res.writeHead(200, {
        'content-type': artifact.contentType,
        'content-length': String(artifact.sizeBytes),
        // The HTML opens in the browser tab; CSV and JSON are saved as files.
        'content-disposition': contentDisposition(format === 'html' ? 'inline' : 'attachment', artifact.fileName),
        // Artifacts never change once READY; private: they were fetched with a key.
        'cache-control': 'private, max-age=86400, immutable',
        'x-content-type-options': 'nosniff',
        ...(format === 'html' ? { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:" } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : artifact.content);
    },
  };
}

function acceptsGzip(req: IncomingMessage): boolean {
  return (req.headers['accept-encoding'] ?? '')
    .split(',')
    .map((part) => part.trim().split(';'))
    .some(([coding, ...params]) => (coding === 'gzip' || coding === '*') && !params.some((param) => /^\s*q=0(\.0*)?\s*$/.test(param)));
}

export function exportRoute(services: Services): HttpRoute {
  let running = 0;
  return {
    method: 'GET',
    path: '/export',
    streaming: true,
    async handle(req, res, context) {
      if (!(await context.admit('READ'))) return;
      const query = new URL(req.url ?? '/', 'http://insights').searchParams;
      let request;
      try {
        request = parseExportRequest(
          { family: query.get('family'), format: query.get('format'), date: query.get('date'), from: query.get('from'), to: query.get('to'), timeZone: query.get('timeZone') },
          services.config.reports.timeZone,
        );
      } catch (error) {
        if (error instanceof ExportInputError) {
          context.fail('BAD_USER_INPUT', error.message, { parameter: error.parameter });
          return;
        }
        throw error;
      }
      if (running >= MAX_CONCURRENT_EXPORTS) {
        context.fail('UNAVAILABLE', `${MAX_CONCURRENT_EXPORTS} exports are already running on this instance; retry shortly`);
        return;
      }
      running += 1;
      try {
        await stream(req, res, services, request, (message) => context.fail('UNAVAILABLE', message));
      } finally {
        running -= 1;
      }
    },
  };
}

async function stream(
  req: IncomingMessage,
  res: ServerResponse,
  services: Services,
  request: ReturnType<typeof parseExportRequest>,
  fail: (message: string) => void,
) {
  const gzip = acceptsGzip(req);
  const source = exportChunks(services.db, services.config.database.url, request);
  // The first chunk is read before the status line: a database that fails at once gets a 503 the client can retry,
  // rather than a 200 cut short.
  let first: IteratorResult<string, unknown>;
  try {
    first = await source.next();
  } catch (error) {
    services.log.warn({ err: error }, 'export could not start');
    fail('The export could not read the database; retry shortly');
    return;
  }
  const day = request.from.toISOString().slice(0, 10);
  const name = `insights-export-${request.families.length === 1 ? request.families[0] : 'all'}-${day}.${request.format}`;
  res.writeHead(200, {
    'content-type': request.format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': contentDisposition('attachment', name),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  if (req.method === 'HEAD') {
    await source.return({});
    res.end();
    return;
  }
  async function* all() {
    if (first.done) return;
    yield first.value;
    yield* source;
  }
  const chunks = Readable.from(all());
  try {
    // Backpressure all the way: the cursor is read only as fast as the client takes the bytes.
    if (gzip) await pipeline(chunks, createGzip(), res);
    else await pipeline(chunks, res);
  } catch (error) {
    // The client went away, or the database failed mid-stream: the response cannot say so any more (the status
    // is sent), so it is cut short, which the client sees as an incomplete body.
    services.log.warn({ err: error }, 'export stream ended early');
    res.destroy();
  }
}
