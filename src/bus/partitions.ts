// Which partition a device belongs to, and which live instance owns which partition. Pure functions: every
// instance computes the same answers from the same inputs, so no coordinator is needed (ADR 015).

/** FNV-1a, 32 bits: stable across processes, versions and platforms (unlike a seeded runtime hash). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's finaliser: spreads FNV's weak low bits, so short keys weigh evenly. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

export function partitionOf(tenantId: string, deviceId: string, partitions: number): number {
  return mix(fnv1a(`${tenantId}\u0000${deviceId}`)) % partitions;
}

/**
 * Rendezvous (highest-random-weight) assignment of partitions to members, capped so that no member gets
 * more than its share (⌈partitions / members⌉): each partition goes to the member with the highest hash
 * of (partition, member) that still has room. When a member joins or leaves, mostly the partitions it
 * gains or held move; the others stay where they are.
 */
export function assignPartitions(partitions: number, members: readonly string[]): Map<string, number[]> {
  const assignment = new Map<string, number[]>(members.map((member) => [member, []]));
  if (members.length === 0) return assignment;
  const share = Math.ceil(partitions / members.length);
  for (let partition = 0; partition < partitions; partition++) {
    const ranked = members
      .map((member) => ({ member, weight: mix(fnv1a(`${partition}\u0000${member}`)) }))
      .sort((x, y) => y.weight - x.weight || (x.member < y.member ? -1 : 1));
    const chosen = ranked.find(({ member }) => assignment.get(member)!.length < share)!;
    assignment.get(chosen.member)!.push(partition);
  }
  return assignment;
}
