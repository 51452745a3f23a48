// JSON as people type and read it: a textarea that says while typing whether it holds valid JSON, an
// answer folded away until asked for, and a configuration whose differing keys stand out.
import { useId, useState } from 'react';
import { readJson } from '../lib/forms';

export type JsonText = ReturnType<typeof useJsonText>;

/** The text of a JSON field and what it parses to (see readJson). */
export function useJsonText(initial: string, options: Parameters<typeof readJson>[1] = {}) {
  const [text, setText] = useState(initial);
  return { text, setText, ...readJson(text, options) };
}

export function JsonField({
  label,
  json,
  rows = 4,
  hint,
}: {
  label: string;
  json: JsonText;
  rows?: number;
  hint?: string;
}) {
  const id = useId();
  return (
    <div className="min-w-0">
      <label className="label" htmlFor={id}>
        {label}
      </label>
      <textarea
        id={id}
        className={`input font-mono text-xs ${json.error ? 'border-rose-500 dark:border-rose-500' : ''}`}
        rows={rows}
        spellCheck={false}
        value={json.text}
        aria-invalid={json.error !== undefined}
        aria-describedby={`${id}-note`}
        onChange={(event) => json.setText(event.target.value)}
      />
      {json.error ? (
        <span id={`${id}-note`} role="alert" className="mt-1 block text-xs text-rose-600">
          {json.error}
        </span>
      ) : (
        hint && (
          <span id={`${id}-note`} className="mt-1 block text-xs text-slate-500">
            {hint}
          </span>
        )
      )}
    </div>
  );
}

const pretty = (value: unknown) => JSON.stringify(value, null, 2);

/** A JSON value behind a summary that opens it (a command's result, a job's parameters). */
export function JsonDetails({ summary, value }: { summary: string; value: unknown }) {
  return (
    <details className="max-w-md text-xs">
      <summary className="cursor-pointer text-indigo-600">{summary}</summary>
      <pre className="mt-1 overflow-x-auto rounded bg-slate-100 p-2 dark:bg-slate-800" data-testid="json-details">
        {pretty(value)}
      </pre>
    </details>
  );
}

/** A command's answer (a device's in a job too): its error, its result folded away, or a dash. */
export function CommandAnswer({ error, result }: { error: string | null; result: unknown }) {
  if (!error && result === null) return <>—</>;
  return (
    <>
      {error && <div className="text-xs text-rose-600">{error}</div>}
      {result !== null && <JsonDetails summary="Result" value={result} />}
    </>
  );
}

/** A JSON object key by key, those in `marked` highlighted (a configuration's keys that differ). */
export function JsonKeys({
  value,
  marked = [],
  testId,
}: {
  value: Record<string, unknown>;
  marked?: readonly string[];
  testId?: string;
}) {
  const entries = Object.entries(value);
  return (
    <pre className="overflow-x-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-800" data-testid={testId}>
      {entries.length === 0
        ? '{}'
        : entries.map(([key, item], i) => {
            const differs = marked.includes(key);
            return (
              <div
                key={key}
                className={differs ? 'bg-amber-200 dark:bg-amber-900/60' : undefined}
                data-differs={differs || undefined}
                title={differs ? 'differs between desired and reported' : undefined}
              >
                {`${i === 0 ? '{ ' : '  '}${JSON.stringify(key)}: ${pretty(item).replace(/\n/g, '\n    ')}${
                  i === entries.length - 1 ? ' }' : ','
                }`}
              </div>
            );
          })}
    </pre>
  );
}
