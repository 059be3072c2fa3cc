/** One HTTP request of a channel: through the SSRF-filtering agents, bounded in time, never following redirects. */
import http from 'node:http';
import https from 'node:https';

export interface HttpOutcome {
  ok: boolean;
  status: number | null;
  /** Worth another attempt: network errors, timeouts, 408, 429 and 5xx. */
  retryable: boolean;
  error: string | null;
}

export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

export async function httpRequest(
  target: URL,
  options: { method: 'POST' | 'PUT'; headers: Record<string, string>; body: string; timeoutMs: number; agents: Agents },
): Promise<HttpOutcome> {
  const url = new URL(target.toString());
  const headers: Record<string, string> = { 'user-agent': 'Insights-Alerting/1', ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
  // Credentials in the URL become Basic authentication (fetch and http refuse them in the URL itself).
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<HttpOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: HttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = transport.request(
      url,
      { method: options.method, headers, agent: url.protocol === 'https:' ? options.agents.https : options.agents.http },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < 2048) chunks.push(chunk);
          size += chunk.length;
        });
        response.on('error', (error) => finish({ ok: false, status: response.statusCode ?? null, retryable: true, error: error.message }));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8').slice(0, 300).replace(/\s+/g, ' ').trim();
          if (status >= 200 && status < 300) return finish({ ok: true, status, retryable: false, error: null });
          if (status >= 300 && status < 400) {
            return finish({ ok: false, status, retryable: false, error: `HTTP ${status}: redirects are not followed (to ${response.headers.location ?? 'nowhere'}); use the final URL` });
          }
          finish({ ok: false, status, retryable: status === 408 || status === 429 || status >= 500, error: `HTTP ${status}${body ? `: ${body}` : ''}` });
        });
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => {
      const refused = /is not allowed/.test(error.message);
      finish({
        ok: false,
        status: null,
        retryable: !refused,
        error: refused ? `refused: ${error.message.replace(/^DNS lookup /, '')} (channels may only call public addresses)` : error.message || error.code || 'request failed',
      });
    });
    request.end(options.body);
  });
}
