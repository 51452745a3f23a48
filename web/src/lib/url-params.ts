// A list page's filters, sort and page kept in the URL's query, so a link, a bookmark or a reload shows the
// same view. Values equal to their default are left out of the URL; a list (default []) is the key repeated.
import { useSearchParams } from 'react-router';

type Values<D> = { [K in keyof D]: D[K] extends string[] ? string[] : string };

/** The values a query holds, each its default when absent. */
export const valuesOf = <D extends Record<string, string | string[]>>(params: URLSearchParams, defaults: D) =>
  Object.fromEntries(
    Object.entries(defaults).map(([key, fallback]) => [
      key,
      Array.isArray(fallback) ? params.getAll(key) : (params.get(key) ?? fallback),
    ]),
  ) as Values<D>;

export function useUrlParams<D extends Record<string, string | string[]>>(
  defaults: D,
): [Values<D>, (changes: Partial<Values<D>>) => void] {
  const [params, setParams] = useSearchParams();
  const values = valuesOf(params, defaults);
  const update = (changes: Partial<Values<D>>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes) as [string, string | string[]][]) {
          next.delete(key);
          if (Array.isArray(value)) for (const one of value) next.append(key, one);
          else if (value !== defaults[key]) next.set(key, value);
        }
        return next;
      },
      { replace: true },
    );
  return [values, update];
}
