// What the CLI prints: tables with aligned columns, no index or quotes, long or multi-line values kept to one
// short cell; the migrations applied at start in one line.
import { describe, expect, it } from 'vitest';
import { migrationRange } from '../../src/db/migrate.js';
import { textTable } from '../../src/lib/text-table.js';

describe('text tables', () => {
  it('pads each column to its widest cell under an upper-case header and a rule', () => {
    expect(
      textTable([
        { tenant_id: 'acme', device_id: 'pump-7', status: 'ACTIVE' },
        { tenant_id: 'acme-industries', device_id: 'p', status: 'REVOKED' },
      ]),
    ).toEqual([
      'TENANT_ID        DEVICE_ID  STATUS',
      '---------------  ---------  -------',
      'acme             pump-7     ACTIVE',
      'acme-industries  p          REVOKED',
    ]);
  });

  it('keeps a long or multi-line value to one cell of at most 48 characters', () => {
    const [, , row] = textTable([{ metadata: `${'x'.repeat(100)}\nmore`, id: 'a' }]);
    expect(row).toBe(`${'x'.repeat(47)}…  a`);
  });

  it('gives a column to a key that only some rows have', () => {
    expect(textTable([{ a: '1' }, { b: '2' }])).toEqual(['A  B', '-  -', '1', '   2']);
  });

  it('names the migrations applied in one line', () => {
    expect(migrationRange(['001_init'])).toBe('001_init');
    expect(migrationRange(['001_init', '002_b', '003_c'])).toBe('3 migrations, 001_init to 003_c');
  });
});
