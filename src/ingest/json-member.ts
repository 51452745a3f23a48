// The source text of one member of a JSON object, so a message's `metrics` can be stored as the device
// sent them instead of serialised again: JSON.stringify of eight floats costs more than the rest of a
// row, and PostgreSQL parses the text into the same jsonb either way (last duplicate key wins in both).
// Pure; only called on text that JSON.parse has accepted.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const isSpace = (code: number) => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;

function skipSpace(text: string, index: number): number {
  while (index < text.length && isSpace(text.charCodeAt(index))) index += 1;
  return index;
}

/** The index just past the string starting at `index` (its opening quote). */
function skipString(text: string, index: number): number {
  for (let quote = text.indexOf('"', index + 1); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1; // not itself escaped
  }
  return -1;
}

/** The index just past the value starting at `index`. */
function skipValue(text: string, index: number): number {
  const first = text.charCodeAt(index);
  if (first === QUOTE) return skipString(text, index);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    while (index < text.length) {
      const code = text.charCodeAt(index);
      if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isSpace(code)) break;
      index += 1;
    }
    return index;
  }
  let depth = 0;
  for (; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      index = skipString(text, index) - 1;
      if (index < 0) return -1;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) depth += 1;
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth -= 1;
      if (depth === 0) return index + 1;
    }
  }
  return -1;
}

/**
 * The text of the last top-level member `name` of the JSON object `text`, or undefined when there is
 * none or a key is written with escapes (it might spell `name`; the caller then serialises instead).
 */
export function memberText(text: string, name: string): string | undefined {
  let index = skipSpace(text, 0);
  if (text.charCodeAt(index) !== OPEN_BRACE) return undefined;
  let found: string | undefined;
  index = skipSpace(text, index + 1);
  while (index < text.length && text.charCodeAt(index) === QUOTE) {
    const keyEnd = skipString(text, index);
    if (keyEnd < 0) return undefined;
    for (let at = index + 1; at < keyEnd - 1; at += 1) if (text.charCodeAt(at) === BACKSLASH) return undefined;
    const isName = keyEnd - index - 2 === name.length && text.startsWith(name, index + 1);
    index = skipSpace(text, keyEnd);
    if (text.charCodeAt(index) !== COLON) return undefined;
    const valueStart = skipSpace(text, index + 1);
    const valueEnd = skipValue(text, valueStart);
    if (valueEnd < 0) return undefined;
    if (isName) found = text.slice(valueStart, valueEnd);
    index = skipSpace(text, valueEnd);
    if (text.charCodeAt(index) !== COMMA) break;
    index = skipSpace(text, index + 1);
  }
  return found;
}
