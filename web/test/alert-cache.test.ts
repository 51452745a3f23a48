// Live alert events applied to cached alert lists and counts: exact on a first page, 'refetch' where the
// frame cannot settle it.
import { describe, expect, it } from 'vitest';
import { patchAlertCounts, patchAlertPage, type AlertListQuery, type ListedAlert } from '../src/lib/alert-cache';

const alert = (id: number, status = 'OPEN', minute = id, extra: Partial<ListedAlert> = {}): ListedAlert => ({
  alert_id: id,
  status,
  severity: 3,
  device_id: `dev-${id}`,
  created_at: `2026-11-28T10:${String(minute).padStart(2, '0')}:00.000Z`,
  ...extra,
});
const firstPage = (filter: AlertListQuery): AlertListQuery => ({ limit: 3, offset: 0, ...filter });
const page = (alerts: ListedAlert[], total = alerts.length) => ({ alerts, total });

describe('patchAlertPage', () => {
  it('replaces an alert it shows in place (an UPDATED costs no request)', () => {
    const updated = { ...alert(2), severity: 4 };
    const patched = patchAlertPage(page([alert(3), alert(2), alert(1)]), firstPage({ status: 'OPEN' }), updated);
    expect(patched).toEqual(page([alert(3), updated, alert(1)]));
  });

  it('puts a newly opened alert first on a first page and counts it, keeping the page size', () => {
    const patched = patchAlertPage(page([alert(3), alert(2), alert(1)], 7), firstPage({ status: 'OPEN' }), alert(4));
    expect(patched).toEqual(page([alert(4), alert(3), alert(2)], 8));
  });

  it('only counts an alert that sorts after a full first page', () => {
    const patched = patchAlertPage(
      page([alert(5), alert(4), alert(3)], 7),
      firstPage({ status: 'ALL' }),
      alert(9, 'OPEN', 1),
    );
    expect(patched).toEqual(page([alert(5), alert(4), alert(3)], 8));
  });

  it('drops an alert that no longer matches the filter from a first page holding every match', () => {
    const patched = patchAlertPage(page([alert(3), alert(2)]), firstPage({ status: 'OPEN' }), alert(2, 'ACKNOWLEDGED'));
    expect(patched).toEqual(page([alert(3)], 1));
  });

  it('leaves a list alone when the alert neither is on it nor matches it', () => {
    const list = page([alert(3)]);
    expect(patchAlertPage(list, firstPage({ status: 'OPEN', severity: 5 }), alert(4))).toBe(list);
    expect(patchAlertPage(list, firstPage({ status: 'OPEN', device_id: 'dev-9' }), alert(4))).toBe(list);
  });

  it('asks for a refetch where the rows of the page shift: a later page, or a full page that lost one', () => {
    const later = { limit: 3, offset: 3, status: 'OPEN' };
    expect(patchAlertPage(page([alert(3)], 4), later, alert(9))).toBe('refetch');
    expect(
      patchAlertPage(page([alert(3), alert(2), alert(1)], 5), firstPage({ status: 'OPEN' }), alert(2, 'CLOSED')),
    ).toBe('refetch');
  });
});

describe('patchAlertCounts', () => {
  const counts = { OPEN: 4, ACKNOWLEDGED: 1 };
  it('counts an OPENED alert as open and an ACKNOWLEDGED one as moved from open', () => {
    expect(patchAlertCounts(counts, 'OPENED')).toEqual({ OPEN: 5, ACKNOWLEDGED: 1 });
    expect(patchAlertCounts(counts, 'ACKNOWLEDGED')).toEqual({ OPEN: 3, ACKNOWLEDGED: 2 });
  });

  it('changes nothing on UPDATED and refetches on CLOSED, whose earlier status the frame does not give', () => {
    expect(patchAlertCounts(counts, 'UPDATED')).toBe(counts);
    expect(patchAlertCounts(counts, 'CLOSED')).toBe('refetch');
  });
});
