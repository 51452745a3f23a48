import { describe, expect, it } from 'vitest';
import { assignPartitions, partitionOf } from '../../src/bus/partitions.js';

describe('partitionOf', () => {
  it('is stable and spreads devices over every partition', () => {
    expect(partitionOf('tenant-a', 'dev-0001', 32)).toBe(partitionOf('tenant-a', 'dev-0001', 32));
    const counts = new Array<number>(32).fill(0);
    for (let i = 0; i < 3200; i++) counts[partitionOf('tenant-a', `dev-${i}`, 32)]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(160);
  });

  it('tells a tenant’s device from another tenant’s device of the same id', () => {
    const differing = Array.from({ length: 50 }, (_, i) => `d${i}`).filter(
      (d) => partitionOf('a', d, 64) !== partitionOf('b', d, 64),
    );
    expect(differing.length).toBeGreaterThan(40);
  });
});

describe('assignPartitions', () => {
  const all = (assignment: Map<string, number[]>) => [...assignment.values()].flat().sort((a, b) => a - b);

  it('gives every partition to exactly one member, evenly', () => {
    for (const members of [['a'], ['a', 'b'], ['x1', 'x2', 'x3'], ['m1', 'm2', 'm3', 'm4', 'm5']]) {
      const assignment = assignPartitions(16, members);
      expect(all(assignment)).toEqual(Array.from({ length: 16 }, (_, i) => i));
      const sizes = [...assignment.values()].map((p) => p.length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(Math.ceil(16 / members.length));
    }
  });

  it('is the same whatever order the members are listed in', () => {
    expect(assignPartitions(16, ['a', 'b', 'c'])).toEqual(
      new Map([...assignPartitions(16, ['c', 'a', 'b'])].sort(([x], [y]) => (x < y ? -1 : 1))),
    );
  });

  it('moves few partitions when a member leaves', () => {
    const before = assignPartitions(32, ['a', 'b', 'c', 'd']);
    const after = assignPartitions(32, ['a', 'b', 'c']);
    const kept = ['a', 'b', 'c'].reduce(
      (sum, m) => sum + before.get(m)!.filter((p) => after.get(m)!.includes(p)).length,
      0,
    );
    expect(kept).toBeGreaterThanOrEqual(16); // of the 24 the survivors held
  });

  it('assigns nothing without members', () => {
    expect(assignPartitions(8, []).size).toBe(0);
  });
});
