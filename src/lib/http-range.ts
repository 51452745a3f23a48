// HTTP Range requests (RFC 9110 §14) of one byte range, as a device resuming a download sends them:
// `bytes=a-b`, `bytes=a-`, `bytes=-n`. A header this does not understand (another unit, several ranges,
// bad syntax) is ignored and the whole body is sent, as the RFC allows. Pure.

export type RangeAnswer =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  /** Nothing of the body is in the range: 416. */
  | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes=([0-9]*)-([0-9]*)$/i;

/** The bytes (inclusive `end`) a Range header asks of a body of `size` bytes. */
export function byteRange(header: string | undefined, size: number): RangeAnswer {
  const match = header === undefined ? null : SINGLE_RANGE.exec(header.trim());
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
