// Which live instance owns which partition of a group: partition leases in a KV bucket whose entries expire,
// membership announced on a plain subject. Every instance renews its leases and says it is alive each tick;
// all compute the same assignment over the members heard lately (partitions.ts); an instance gives up what
// is no longer its own and takes what is free and assigned to it.
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Ownership, PartitionOwner } from './index.js';
import { assignPartitions } from './partitions.js';

const LEASES_BUCKET = 'pulse_leases';

/**
 * A lease (and a member's last announcement) lives 0.6 of the failover time and is renewed every sixth
 * of it: a dead instance's partitions are free after at most 0.6, taken at the next check after that,
 * and a live one may miss two renewals (a NATS leader election) without losing them.
 */
export function leaseTtlMs(failoverSeconds: number): number {
  return Math.round(failoverSeconds * 600);
}

function ownershipTickMs(failoverSeconds: number): number {
  return Math.max(200, Math.round((failoverSeconds * 1000) / 6));
}

/**
 * The leases bucket, opened by the first instance that takes partitions. Lease calls give up after one
 * ownership tick: a NATS leader election must not stall a tick for the client's default 5 s per call.
 */
export function leaseBucket(nc: NatsConnection, failoverSeconds: number, replicas: number): () => Promise<KV> {
  let leases: Promise<KV> | undefined;
  return () =>
    (leases ??= new Kvm(jetstream(nc, { timeout: ownershipTickMs(failoverSeconds) }))
      .create(LEASES_BUCKET, { history: 1, ttl: leaseTtlMs(failoverSeconds), replicas })
      .catch((error: unknown) => {
        leases = undefined;
        throw error;
      }));
}

/** Joins `group` and keeps its share of the partitions until stopped (ownership described above). */
export async function startOwnership(
  nc: NatsConnection,
  kv: KV,
  group: string,
  instanceId: string,
  owner: PartitionOwner,
  partitions: number,
  options: { failoverSeconds: number },
  log: Logger,
): Promise<Ownership & { stop(): Promise<void> }> {
  const leaseKey = (partition: number) => `${group}.partitions.${partition}`;
  /** partition → its lease's revision, and when it was last renewed */
  const owned = new Map<number, { revision: number; renewedAt: number }>();
  const tickMs = ownershipTickMs(options.failoverSeconds);
  const lifetime = leaseTtlMs(options.failoverSeconds);
  const members = followMembers(nc, group, instanceId);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const release = async (partitions: number[], deleteLeases: boolean) => {
    if (partitions.length === 0) return;
    await owner.release(partitions).catch((error: unknown) => log.error({ err: error, partitions }, 'release failed'));
    for (const partition of partitions) {
      const lease = owned.get(partition);
      owned.delete(partition);
      if (deleteLeases && lease) {
        await kv.delete(leaseKey(partition), { previousSeq: lease.revision }).catch(() => undefined);
      }
    }
    log.info({ group, partitions }, 'partitions released');
  };

  const tick = async () => {
    // Leases first: a slow membership listing must not cost the partitions we hold.
    const lost: number[] = [];
    await Promise.all(
      [...owned].map(async ([partition, lease]) => {
        try {
          const revision = await kv.update(leaseKey(partition), instanceId, lease.revision);
          owned.set(partition, { revision, renewedAt: Date.now() });
        } catch (error) {
          // Another revision: the lease expired and was taken meanwhile. A timeout (NATS electing a new
          // leader) is no proof: the lease stays ours until it has gone unrenewed for its whole lifetime.
          if (isWrongRevision(error) || Date.now() - lease.renewedAt >= lifetime) {
            lost.push(partition);
          }
        }
      }),
    );
    if (lost.length > 0) log.warn({ group, partitions: lost }, 'partition leases lost');
    await release(lost, false);

    members.announce();
    const mine = new Set(assignPartitions(partitions, members.heardWithin(lifetime)).get(instanceId) ?? []);
    await release(
      [...owned.keys()].filter((partition) => !mine.has(partition)),
      true,
    );

    const gained: { partition: number; revision: number }[] = [];
    await Promise.all(
      [...mine]
        .filter((partition) => !owned.has(partition))
        .map(async (partition) => {
          try {
            gained.push({ partition, revision: await kv.create(leaseKey(partition), instanceId) });
          } catch {
            // still leased by an instance that is leaving or has died: taken once its lease is released or expires
          }
        }),
    );
    gained.sort((a, b) => a.partition - b.partition);
    if (gained.length > 0) {
      for (const { partition, revision } of gained) owned.set(partition, { revision, renewedAt: Date.now() });
      const partitions = gained.map((g) => g.partition);
      try {
        await owner.acquire(partitions);
        log.info({ group, partitions }, 'partitions acquired');
      } catch (error) {
        // Could not take them (the database is away): give the leases back and try again next tick.
        log.warn({ err: error, group, partitions }, 'could not take partitions');
        await release(partitions, true);
      }
    }
  };

  const check = () =>
    (running = tick().catch((error: unknown) => log.warn({ err: error, group }, 'partition ownership check failed')));
  // Hear the others before the first assignment, so that instances starting together do not all
  // claim every partition at once.
  members.announce();
  await new Promise((resolve) => setTimeout(resolve, tickMs));
  await check();
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      void check().then(() => {
        if (!stopped) schedule();
      });
    }, tickMs);
  };
  schedule();

  return {
    owned: () => [...owned.keys()].sort((a, b) => a - b),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await release([...owned.keys()], true);
      members.leave();
    },
  };
}

/**
 * Membership is live, on a plain subject: every instance says it is here each tick, and whoever was heard
 * within a lease lifetime is a member. (Listing KV keys would create a consumer every tick.)
 */
function followMembers(nc: NatsConnection, group: string, instanceId: string) {
  const membersSubject = `pulse.members.${group}`;
  const heard = new Map<string, number>();
  const membership = nc.subscribe(membersSubject, {
    callback: (error, msg) => {
      if (error) return;
      try {
        const said = JSON.parse(new TextDecoder().decode(msg.data)) as { id: string; leaving?: boolean };
        if (said.leaving) heard.delete(said.id);
        else heard.set(said.id, Date.now());
      } catch {
        // not ours
      }
    },
  });
  const announce = (leaving = false) => {
    try {
      nc.publish(membersSubject, JSON.stringify({ id: instanceId, leaving }));
    } catch {
      // disconnected: the leases say the rest
    }
  };
  return {
    announce: () => announce(),
    /** The members heard within `lifetime` ms, this instance always among them. */
    heardWithin(lifetime: number): string[] {
      const members = [...heard].filter(([, at]) => Date.now() - at < lifetime).map(([id]) => id);
      if (!members.includes(instanceId)) members.push(instanceId);
      return members;
    },
    leave() {
      announce(true);
      membership.unsubscribe();
    },
  };
}

/** JetStream refused a write because the key has another revision than the one we hold. */
function isWrongRevision(error: unknown): boolean {
  return /wrong last sequence/i.test((error as Error).message ?? '');
}
