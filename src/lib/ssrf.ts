// Where Pulse may send a notification. Checked when an integration is saved and again at every send,
// on the addresses the name resolves to at that moment; the connection then goes to the checked address
// (pinned), so a DNS answer that changes between check and connect cannot redirect it.
// SSRF_ALLOWLIST (CIDRs or host names) is the only way to reach private networks.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const BLOCKED_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const BLOCKED_V6 = [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
  ['100::', 64], // discard
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2001::', 32], // Teredo: an IPv4 address in disguise
  ['2002::', 16], // 6to4: likewise
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const;
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254']);
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data']);
const INTERNAL_SUFFIXES = ['.local', '.internal', '.localhost', '.localdomain'];

const blocked = new BlockList();
for (const [network, prefix] of BLOCKED_V4) blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of BLOCKED_V6) blocked.addSubnet(network, prefix, 'ipv6');

export type SsrfReason =
  'internal_hostname' | 'metadata_endpoint' | 'private_address' | 'resolves_to_blocked' | 'dns_failed';

export const SSRF_MESSAGES: Record<SsrfReason, string> = {
  internal_hostname: 'Internal hostnames are not allowed',
  metadata_endpoint: 'Cloud metadata endpoints are not allowed',
  private_address: 'Private IP addresses are not allowed',
  resolves_to_blocked: 'Hostname resolves to blocked IP address',
  dns_failed: 'Hostname does not resolve',
};

export class Allowlist {
  private readonly networks = new BlockList();
  private readonly hosts = new Set<string>();

  /** Entries are CIDRs (10.0.0.0/8, fd00::/8), single addresses, or host names. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/');
      const family = isIP(address ?? '');
      if (family === 0) this.hosts.add(entry.toLowerCase());
      else if (prefix === undefined) this.networks.addAddress(address!, family === 4 ? 'ipv4' : 'ipv6');
      else this.networks.addSubnet(address!, Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  hasHost(host: string): boolean {
    return this.hosts.has(host.toLowerCase());
  }

  hasAddress(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.networks.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** The 16 bytes of an IPv6 address (any textual form, a trailing dotted quad included). */
function ipv6Bytes(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase().replace(/%.*$/, '');
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...(tail !== undefined ? Array(missing).fill('0') : []), ...groups(tail)];
  return all.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

/**
 * The IPv4 address an IPv6 one stands for, where it embeds one that reaches the same host: IPv4-mapped
 * (::ffff:a.b.c.d, in any notation) and NAT64 (64:ff9b::a.b.c.d). Judged as that IPv4 address.
 */
function embeddedIpv4(address: string): string | undefined {
  const bytes = ipv6Bytes(address);
  if (!bytes) return undefined;
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const nat64 = bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12);
  return mapped || nat64 ? bytes.slice(12).join('.') : undefined;
}

/** Why an address may not be contacted, or undefined when it may. Pure. */
export function addressProblem(address: string, allowlist: Allowlist): SsrfReason | undefined {
  const unmapped = embeddedIpv4(address) ?? address;
  if (allowlist.hasAddress(unmapped)) return undefined;
  if (METADATA_ADDRESSES.has(unmapped)) return 'metadata_endpoint';
  const family = isIP(unmapped);
  if (family === 0) return 'private_address';
  return blocked.check(unmapped, family === 4 ? 'ipv4' : 'ipv6') ? 'private_address' : undefined;
}

/** Why a host name may not be contacted before resolving it, or undefined. Pure. */
export function hostnameProblem(host: string, allowlist: Allowlist): SsrfReason | undefined {
  const name = host
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[|\]$/g, '');
  if (allowlist.hasHost(name)) return undefined;
  if (isIP(name)) return addressProblem(name, allowlist);
  if (METADATA_NAMES.has(name)) return 'metadata_endpoint';
  if (name === 'localhost' || INTERNAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'internal_hostname';
  return undefined;
}

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;
export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

export class SsrfError extends Error {
  override name = 'SsrfError';
  constructor(readonly reason: SsrfReason) {
    super(SSRF_MESSAGES[reason]);
  }
}

export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves `host` once and returns the address to connect to. Every address the name resolves to must
 * be allowed (one bad answer is enough to refuse: round-robin could pick it next time).
 */
export async function resolveDestination(
  host: string,
  allowlist: Allowlist,
  resolve: Resolver = systemResolver,
): Promise<PinnedAddress> {
  const name = host.replace(/^\[|\]$/g, '');
  const early = hostnameProblem(name, allowlist);
  if (early) throw new SsrfError(early);
  const literal = isIP(name);
  if (literal) return { address: name, family: literal as 4 | 6 };
  let answers: { address: string; family: number }[];
  try {
    answers = await resolve(name);
  } catch {
    throw new SsrfError('dns_failed');
  }
  if (answers.length === 0) throw new SsrfError('dns_failed');
  // A host name on the allowlist may resolve anywhere.
  if (!allowlist.hasHost(name) && answers.some((answer) => addressProblem(answer.address, allowlist))) {
    throw new SsrfError('resolves_to_blocked');
  }
  const first = answers[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
