// What a metric's name may be, and so a device attribute's key (the same names in the same places: rules,
// charts, selectors): a letter or '_' first, then letters, digits and _ . -, at most 128 characters.
export const MAX_METRIC_KEY_LENGTH = 128;
export const METRIC_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
