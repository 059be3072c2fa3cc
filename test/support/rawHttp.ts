import { ADMIN_KEY } from './server.js';

export const GRAPHQL_ACCEPT = 'application/graphql-response+json, application/json';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, when it is JSON. */
  json: { data?: any; errors?: { message: string; path?: unknown[]; extensions?: Record<string, any> }[] } | undefined;
}

/** POSTs a GraphQL operation with the given key (null: none) and extra headers, and reads the whole answer. */
export async function postGraphQL(
  baseUrl: string,
  body: unknown,
  options: { key?: string | null; headers?: Record<string, string>; rawBody?: string | Blob; signal?: AbortSignal } = {},
): Promise<RawResponse> {
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: GRAPHQL_ACCEPT,
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...options.headers,
    },
    body: options.rawBody ?? JSON.stringify(body),
    signal: options.signal ?? AbortSignal.timeout(30_000),
  });
  return readResponse(response);
}

export async function readResponse(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let json: RawResponse['json'];
  try {
    json = JSON.parse(text) as RawResponse['json'];
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export const firstCode = (response: RawResponse): unknown => response.json?.errors?.[0]?.extensions?.code;

export interface SseStream {
  status: number;
  headers: Headers;
  /** Every `data:` payload of `next` events so far, parsed. */
  events: { data?: any; errors?: any[] }[];
  completed: boolean;
  /** Resolves once the stream has ended (complete event or connection closed). */
  ended: Promise<void>;
  close(): void;
}

/** Opens a GraphQL-over-SSE (distinct connections mode) stream with POST and collects its events. */
export async function openSse(baseUrl: string, query: string, key: string | null, variables?: unknown): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    signal: controller.signal,
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const stream: SseStream = {
    status: response.status,
    headers: response.headers,
    events: [],
    completed: false,
    ended: Promise.resolve(),
    close: () => controller.abort(),
  };
  stream.ended = (async () => {
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'next' && data) stream.events.push(JSON.parse(data));
          if (event === 'complete') stream.completed = true;
        }
      }
    } catch {
      // aborted by close(), or the server went away
    }
  })();
  return stream;
}
