// Tables for a terminal: a header, a rule and one line a row, columns padded to their widest cell. Unlike
// console.table, no index column, no quotes around strings, and no box drawing to wrap on a narrow terminal.

/** A cell longer than this ends in … so one long value (metadata, an error) does not push every row aside. */
const MAX_CELL = 48;

export function textTable(rows: Record<string, string>[]): string[] {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: string | undefined) => {
    // A line per row: line breaks and tabs in a value become spaces.
    const flat = (value ?? '').replace(/\s+/g, ' ');
    return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
  };
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.toUpperCase())),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.map(line),
  ];
}
