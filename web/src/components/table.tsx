// The one table of the web app's lists: columns declared once (header, cell, optional server-side sort),
// and QueryTable around it for a list that comes from a query (loading, error, empty, then the rows).
import type { ReactNode } from 'react';
import { Empty, Loaded } from './ui';

export interface Column<R> {
  header: ReactNode;
  cell: (row: R) => ReactNode;
  /** Classes of the column's cells. */
  className?: string;
  title?: (row: R) => string | undefined;
  /** The field the server sorts by: the header becomes a button that sorts on it. */
  sortKey?: string;
}

export interface Sorting {
  key: string;
  order: 'asc' | 'desc';
  onSort(key: string): void;
}

export interface TableProps<R> {
  rows: R[];
  /** `false` leaves a column out (e.g. actions for viewers). */
  columns: (Column<R> | false)[];
  rowKey: (row: R) => string | number;
  testId?: string;
  sorting?: Sorting;
}

export function Table<R>({ rows, columns, rowKey, testId, sorting }: TableProps<R>) {
  const shown = columns.filter((column): column is Column<R> => column !== false);
  // A table wider than a phone scrolls inside its card instead of widening the page.
  return (
    <div className="relative -mx-1 overflow-x-auto px-1">
      <table className="table" data-testid={testId}>
        <thead>
          <tr>
            {shown.map((column, index) => (
              <th key={index}>
                {column.sortKey && sorting ? (
                  <button className="uppercase" onClick={() => sorting.onSort(column.sortKey!)}>
                    {column.header} {sorting.key === column.sortKey ? (sorting.order === 'asc' ? '▲' : '▼') : ''}
                  </button>
                ) : (
                  column.header
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {shown.map((column, index) => (
                <td key={index} className={column.className} title={column.title?.(row)}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The "Enabled" column of rules and integrations: a checkbox administrators flip, others only see. */
export function enabledColumn<R extends { name: string; enabled: boolean }>(
  canChange: boolean,
  toggle: (row: R) => void,
): Column<R> {
  return {
    header: 'Enabled',
    cell: (row) => (
      <input
        type="checkbox"
        aria-label={`Enable ${row.name}`}
        checked={row.enabled}
        disabled={!canChange}
        onChange={() => toggle(row)}
      />
    ),
  };
}

/** A card listing what a query returned; `children` go below the table (a pager). */
export function QueryTable<D, R>({
  query,
  rows,
  empty,
  skeletonRows,
  children,
  ...table
}: Omit<TableProps<R>, 'rows'> & {
  query: { data: D | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  rows: (data: D) => R[];
  /** Shown instead of an empty table. */
  empty: ReactNode;
  skeletonRows?: number;
  children?: ReactNode;
}) {
  return (
    <div className="card overflow-x-auto">
      <Loaded query={query} rows={skeletonRows}>
        {(data) => {
          const list = rows(data);
          return list.length === 0 ? <Empty>{empty}</Empty> : <Table rows={list} {...table} />;
        }}
      </Loaded>
      {children}
    </div>
  );
}
