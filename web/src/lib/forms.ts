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
