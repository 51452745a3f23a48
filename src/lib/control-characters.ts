// C0 and C1 control characters (U+0000–U+001F, U+007F–U+009F) in ids, topics and URL values. MQTT forbids
// U+0000 in topic names (MQTT-4.7.3-2) and PostgreSQL cannot store it in text; the rest are no part of
// any id Pulse registers and only make logs and quarantine rows lie about what was sent.

// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_GLOBAL = /[\u0000-\u001f\u007f-\u009f]/g;

const codePoint = (character: string) => `U+${character.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** The first control character in `text` as `U+0000`, or undefined when it holds none. */
export function firstControlCharacter(text: string): string | undefined {
  const found = CONTROL.exec(text);
  return found ? codePoint(found[0]) : undefined;
}

/** `text` with each control character written as its `\u0000` escape: storable, and shows what was sent. */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_GLOBAL, (character) => `\\u${codePoint(character).slice(2).toLowerCase()}`);
}
