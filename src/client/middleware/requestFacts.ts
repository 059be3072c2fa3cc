import ipaddr from 'ipaddr.js';

/** What the middleware knows of one finished request, whatever the framework. */
export interface RequestFacts {
  method: string;
  /** The raw path, without the query string. */
  path: string;
  /** The route template (`/api/projects/:id`) when the framework knows it. */
  route: string | null;
  statusCode: number | null;
  responseTimeMs: number;
  /** The address of the peer on the socket (a proxy's, behind one). */
  socketAddress: string | null | undefined;
  header(name: string): string | null | undefined;
}

/**
 * Which peers may speak for the client through X-Forwarded-For: `false` (none: the socket's address is the
 * client's), `true` (all: the left-most address), a number of proxy hops in front of the service, or addresses,
 * CIDR ranges and the names `loopback` and `private` (an array or a comma-separated string).
 */
export type TrustProxy = boolean | number | string | readonly string[];

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A bare IP address: IPv4-mapped IPv6 as IPv4, no zone id, no port; null when it is not an address. */
export function normalizeAddress(raw: string | null | undefined): string | null {
  const parsed = parseAddress(raw);
  return parsed ? parsed.toString() : null;
}

function parseAddress(raw: string | null | undefined): Address | null {
  if (!raw) return null;
  let text = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1] as string;
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  text = text.replace(/%.*$/, '');
  if (!ipaddr.isValid(text)) return null;
  const parsed = ipaddr.parse(text);
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
}

/** Turns a trust setting into a test on (address, hop index from the service). */
export function compileTrust(trust: TrustProxy): (address: Address | null, hop: number) => boolean {
  if (typeof trust === 'boolean') return () => trust;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  const entries = (typeof trust === 'string' ? trust.split(',') : trust).map((entry) => entry.trim()).filter(Boolean);
  const tests = entries.map((entry): ((address: Address) => boolean) => {
    if (entry === 'loopback' || entry === 'private') {
      const ranges = entry === 'loopback' ? ['loopback'] : ['private', 'uniqueLocal', 'linkLocal', 'loopback'];
      return (address) => ranges.includes(address.range());
    }
    const [range, bits] = entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), entry.includes(':') ? 128 : 32];
    return (address) => address.kind() === range.kind() && address.match(range, bits);
  });
  return (address) => address !== null && tests.some((test) => test(address));
}

/**
 * The client's address: walking from the socket towards the left of X-Forwarded-For, every trusted hop passes on
 * to the address it names; the first untrusted one is the client (as Express's `trust proxy` does).
 */
export function clientAddress(facts: Pick<RequestFacts, 'socketAddress' | 'header'>, trusted: (address: Address | null, hop: number) => boolean): string | null {
  const forwarded = (facts.header('x-forwarded-for') ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .reverse();
  const chain = [facts.socketAddress ?? null, ...forwarded];
  let index = 0;
  while (index < chain.length - 1 && trusted(parseAddress(chain[index]), index)) index += 1;
  return normalizeAddress(chain[index]);
}

const ID_SEGMENT = [
  /^\d+$/,
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  /^[0-9a-f]{16,}$/i,
  // Slugs with digits and long random tokens (ULIDs, nanoids, base64 ids).
  /^(?=.*\d)[\w-]{20,}$/,
];

/** A path with ids replaced by `:id`, so raw paths do not give each record its own endpoint. */
export function collapsePath(path: string): string {
  const segments = path.split('/').map((segment) => {
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      // A malformed escape is kept as it came.
    }
    return ID_SEGMENT.some((pattern) => pattern.test(decoded)) ? ':id' : segment;
  });
  const joined = segments.join('/').replace(/\/+$/, '');
  return (joined || '/').slice(0, 200);
}

const VERBS: Record<string, string> = { POST: 'CREATE', PUT: 'UPDATE', PATCH: 'UPDATE', DELETE: 'DELETE' };

const isParameter = (segment: string) => /^[:*{]/.test(segment);

function singular(word: string): string {
  if (/ies$/i.test(word)) return `${word.slice(0, -3)}y`;
  if (/(ss|us|is)$/i.test(word)) return word;
  if (/(x|ch|sh|ses)$/i.test(word) && /es$/i.test(word)) return word.slice(0, -2);
  return word.replace(/s$/i, '');
}

const constantCase = (text: string) =>
  text
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();

/**
 * The activity type of a request, in the product's style: the resource of the route and what was done to it.
 * POST /api/projects → PROJECT_CREATE, PATCH /pages/:id → PAGE_UPDATE, GET /projects/:id → PROJECT_VIEW,
 * GET /projects → PROJECT_LIST, POST /projects/:id/archive → PROJECT_ARCHIVE.
 */
export function deriveActivityType(method: string, route: string): string {
  const segments = route.split('/').filter(Boolean).filter((segment, index) => !(index === 0 && segment === 'api') && !/^v\d+$/i.test(segment));
  const last = segments[segments.length - 1];
  const upper = method.toUpperCase();
  let resource: string;
  let action: string;
  if (last === undefined) {
    resource = 'ROOT';
    action = upper === 'GET' || upper === 'HEAD' ? 'VIEW' : (VERBS[upper] ?? upper);
  } else if (isParameter(last)) {
    const named = [...segments].reverse().find((segment) => !isParameter(segment));
    resource = named ? singular(named) : 'RESOURCE';
    action = upper === 'GET' || upper === 'HEAD' ? 'VIEW' : (VERBS[upper] ?? upper);
  } else if (segments.length >= 2 && isParameter(segments[segments.length - 2] as string) && upper === 'POST') {
    // An action on one resource: POST /projects/:id/archive.
    const named = [...segments.slice(0, -2)].reverse().find((segment) => !isParameter(segment));
    resource = named ? singular(named) : 'RESOURCE';
    action = last;
  } else {
    resource = singular(last);
    action = upper === 'GET' || upper === 'HEAD' ? 'LIST' : (VERBS[upper] ?? upper);
  }
  return `${constantCase(resource) || 'RESOURCE'}_${constantCase(action)}`.slice(0, 100);
}
