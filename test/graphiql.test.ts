import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_ASSETS_PATH } from '../src/http/graphiql.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';

// GraphiQL in a real browser with no network but this machine: everything it needs must come from the service.
// Debian's Chromium, driven by playwright-core (which downloads no browser of its own).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = path.join(os.tmpdir(), 'insights-graphiql.png');

const RECORD = `mutation($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id } }`;
const CREATE_READ_KEY = `mutation { createApiKey(input: { name: "graphiql-reader", scopes: [READ] }) { key } }`;

describe('GraphiQL', () => {
  let server: TestServer;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`The GraphiQL test needs Chromium at ${CHROMIUM}: run \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`);
    }
    server = await startTestServer('postgres', { label: 'graphiql' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
  });

  it('serves its files from the service as public static files, and nothing else there', async () => {
    for (const file of ['graphiql.js', 'graphiql.css', 'editor.worker.js', 'json.worker.js', 'graphql.worker.js', 'favicon.ico']) {
      // No key: they are the contents of a public npm package.
      const response = await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}${file}`);
      expect(response.status, file).toBe(200);
      expect(response.headers.get('cache-control'), file).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('etag'), file).toMatch(/^"[\w-]+"$/);
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.length, file).toBeGreaterThan(10_000);
      // Nothing about this service in them.
      expect(body.includes('currentSystemMetrics'), file).toBe(false);
      const again = await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}${file}`, { headers: { 'if-none-match': response.headers.get('etag')! } });
      expect(again.status, file).toBe(304);
    }
    // Compressed for browsers, plain for clients that do not take gzip.
    const plain = await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}graphiql.css`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toMatch(/graphiql/);

    for (const name of ['', 'nope.js', '__proto__', 'constructor', '..%2F..%2Fpackage.json']) {
      const response = await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}${name}`);
      expect(response.status, name).toBe(404);
      expect(await response.text(), name).toBe('Not found\n');
    }
    const post = await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}graphiql.js`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    // Any other path stays behind the key.
    expect((await fetch(`${server.url}/graphiql/0.0.0/graphiql.js`)).status).toBe(401);
  });

  it('asks a browser for an ADMIN key: no page without one, none for a READ key', async () => {
    const anonymous = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await anonymous.text()).not.toContain(GRAPHIQL_ASSETS_PATH);

    const created = await server.request<{ createApiKey: { key: string } }, never>(CREATE_READ_KEY);
    const readKey = created.data!.createApiKey.key;
    const reader = await fetch(`${server.url}/graphql`, {
      headers: { accept: 'text/html', authorization: `Basic ${Buffer.from(`reader:${readKey}`).toString('base64')}` },
    });
    expect(reader.status).toBe(403);
    expect(await reader.text()).not.toContain(GRAPHIQL_ASSETS_PATH);
  });

  it('works without internet access: shows the default query, runs it and shows the data', { timeout: 120_000 }, async () => {
    const stored = await server.request(RECORD, {
      input: { metricName: 'graphiql_probe', metricType: 'GAUGE', value: 42.5, unit: 'percent', tags: { host: 'graphiql-host' } },
    });
    expect(stored.errors).toBeUndefined();

    const context = await browser!.newContext({
      httpCredentials: { username: 'admin', password: ADMIN_KEY },
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    // Only the service is reachable: anything else (a CDN) is refused, and listed.
    const external: string[] = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      external.push(url.href);
      return route.abort('internetdisconnected');
    });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });

    try {
      await page.goto(`${server.url}/graphql`);
      expect(await page.title()).toBe('Insights');
      // The editor shows the configured default query.
      await page.waitForFunction(
        () => (document.querySelector('.graphiql-query-editor')?.textContent ?? '').includes('currentSystemMetrics'),
        null,
        { timeout: 60_000 },
      );
      expect(await page.locator('body').innerText()).not.toContain('__TITLE__');

      await page.click('.graphiql-execute-button');
      await page.waitForFunction(
        () => (document.querySelector('.graphiql-response')?.textContent ?? '').includes('graphiql_probe'),
        null,
        { timeout: 30_000 },
      );
      const result = (await page.locator('.graphiql-response').textContent()) ?? '';
      expect(result).toContain('"data"');
      expect(result).toContain('42.5');
      expect(result).toContain('graphiql-host');
      expect(result).not.toContain('"errors"');

      // Ctrl-Enter in the editor runs it again, and shows what was recorded since.
      const second = await server.request(RECORD, {
        input: { metricName: 'graphiql_probe_again', metricType: 'GAUGE', value: 7, tags: { host: 'graphiql-host' } },
      });
      expect(second.errors).toBeUndefined();
      await page.locator('.graphiql-query-editor .monaco-editor').first().click();
      await page.keyboard.press('Control+Enter');
      await page.waitForFunction(
        () => (document.querySelector('.graphiql-response')?.textContent ?? '').includes('graphiql_probe_again'),
        null,
        { timeout: 30_000 },
      );
    } finally {
      await page.screenshot({ path: SCREENSHOT }).catch(() => undefined);
      await context.close();
    }
    expect(external, `requests that left the machine (screenshot: ${SCREENSHOT})`).toEqual([]);
    expect(problems, `screenshot: ${SCREENSHOT}`).toEqual([]);
  });
});
