// Source-address allow-lists: CIDRs (10.0.0.0/8, 2001:db8::/32) or single addresses, checked and written
// in one canonical form; an address is in a list when it falls in one of its networks (an IPv4-mapped IPv6
// address counts as its IPv4 address, as a dual-stack server reports IPv4 clients).
import { BlockList, isIP } from 'node:net';

const familyOf = (address: string) => (isIP(address) === 4 ? 'ipv4' : 'ipv6');

/** Each entry as "address/prefix", or the reason the first bad one is refused. */
export function parseNetworks(entries: readonly string[]): { networks: string[] } | { problem: string } {
  const networks: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    const [address = '', prefixText, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (family === 0 || extra !== undefined || !/^\d{1,3}$/.test(String(prefixText ?? max)) || prefix > max) {
      return { problem: `${entry} is not an address or a CIDR such as 203.0.113.0/24 or 2001:db8::/32` };
    }
    networks.push(`${address.toLowerCase()}/${prefix}`);
  }
  return { networks: [...new Set(networks)] };
}

/** Whether `address` is in one of `networks` (as parseNetworks wrote them); an empty list allows none. */
export function inNetworks(address: string, networks: readonly string[]): boolean {
  const plain = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
  if (isIP(plain) === 0) return false;
  const list = new BlockList();
  for (const network of networks) {
    const [base, prefix] = network.split('/') as [string, string];
    list.addSubnet(base, Number(prefix), familyOf(base));
  }
  return list.check(plain, familyOf(plain));
}
