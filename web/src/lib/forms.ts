// Reading the web app's forms.

/** A comma-separated field as a list of its trimmed, non-empty items; null when it names none. */
export function commaList(value: FormDataEntryValue | null): string[] | null {
  const items = String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return items.length > 0 ? items : null;
}

/** The alert types a route or a silence can name. */
export const ALERT_TYPES = ['NO_HEARTBEAT', 'THRESHOLD', 'INTEGRATION_FAILING'] as const;
export const isAlertType = (value: string): value is (typeof ALERT_TYPES)[number] =>
  (ALERT_TYPES as readonly string[]).includes(value);

/**
 * What a JSON field holds: its value (`blank` when nothing is typed), or what is wrong with it in words.
 * `object` asks for a JSON object, as configurations and metadata are.
 */
export function readJson(
  text: string,
  { blank, object = false }: { blank?: unknown; object?: boolean } = {},
): { value: unknown; error?: undefined } | { value?: undefined; error: string } {
  if (text.trim() === '') return blank === undefined ? { error: 'Type a JSON value' } : { value: blank };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `Not valid JSON: ${(error as Error).message}` };
  }
  if (object && (typeof value !== 'object' || value === null || Array.isArray(value)))
    return { error: 'Must be a JSON object, such as {"interval": 30}' };
  return { value };
}

/** A command's name as the API takes it (COMMAND_NAME): a letter, then letters, digits, '_', '.', '-'. */
export const COMMAND_NAME_PATTERN = '[A-Za-z][A-Za-z0-9_.\\-]{0,63}';
