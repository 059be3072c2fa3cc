/**
 * Outgoing URLs of notification channels. A rule author must not be able to make the service call internal
 * endpoints, so unless INSIGHTS_ALERT_ALLOW_PRIVATE_URLS=true a URL is refused when its host is, or resolves
 * to, anything but a public unicast address: loopback, private (RFC 1918), link-local, unique-local (fc00::/7),
 * carrier-grade NAT, multicast, reserved, unspecified, IPv4-mapped IPv6 (::ffff:127.0.0.1) and the like
 * (ipaddr.js' range classification). It is checked when the channel is saved (a clear error) and again at every
 * send, at connection time, on the address actually connected to (request-filtering-agent validates the DNS
 * answer the socket uses, so a name that resolves to a public address at save time and a private one later —
 * DNS rebinding — is refused). Redirects are never followed: a 3xx answer is a failed attempt.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

export class UnsafeUrlError extends Error {}

/** Why an address may not be called, or null when it is a public unicast address. */
export function addressProblem(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return `${address} is not an IP address`;
  }
  const range = parsed.range();
  if (range === 'unicast') return null;
  const inner = parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? ` (${(parsed as ipaddr.IPv6).toIPv4Address().toString()})` : '';
  return `${address}${inner} is a ${range} address`;
}

/** Checks a URL's scheme, and (unless private addresses are allowed) every address its host resolves to. */
export async function checkOutgoingUrl(value: string, allowPrivate: boolean): Promise<URL> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UnsafeUrlError('must be a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsafeUrlError('must be an http:// or https:// URL');
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(host) !== 0 ? [host] : await resolve(host);
  for (const address of addresses) {
    const problem = addressProblem(address);
    if (problem) {
      throw new UnsafeUrlError(
        `${url.hostname} resolves to ${problem}: channels may only call public addresses (set INSIGHTS_ALERT_ALLOW_PRIVATE_URLS=true to allow internal ones)`,
      );
    }
  }
  return url;
}

async function resolve(host: string): Promise<string[]> {
  try {
    const answers = await dns.lookup(host, { all: true, verbatim: true });
    if (answers.length === 0) throw new UnsafeUrlError(`${host} does not resolve to any address`);
    return answers.map((answer) => answer.address);
  } catch (error) {
    if (error instanceof UnsafeUrlError) throw error;
    throw new UnsafeUrlError(`${host} cannot be resolved (${(error as NodeJS.ErrnoException).code ?? 'DNS error'})`);
  }
}

/** HTTP agents that refuse non-public addresses at connection time (one pair, shared: they pool connections). */
export function outgoingAgents(allowPrivate: boolean) {
  const options = { allowPrivateIPAddress: allowPrivate, allowMetaIPAddress: false, keepAlive: true, maxSockets: 16 };
  return { http: new RequestFilteringHttpAgent(options), https: new RequestFilteringHttpsAgent(options) };
}
