// MAP_TILE_URL, the raster tiles the web app's maps may draw above the outlines they ship with: a Leaflet
// URL template, checked at boot, and the CSP sources that let browsers load its images. Pure.

const PLACEHOLDER = /\{-?[a-z]+\}/;

/** Why `template` is not a usable tile URL template, or undefined when it is. */
export function tileTemplateProblem(template: string): string | undefined {
  const usage = 'must be an http(s) URL, or a path on this server, with {z}, {x} and {y}';
  const placed = template.includes('{z}') && template.includes('{x}') && /\{-?y\}/.test(template);
  if (!placed) return usage;
  if (template.startsWith('/')) return template.startsWith('//') ? usage : undefined;
  const host = /^https?:\/\/([^/?#]+)/i.exec(template)?.[1];
  let url: URL;
  try {
    url = new URL(template.replaceAll(new RegExp(PLACEHOLDER, 'g'), 'a'));
  } catch {
    return usage;
  }
  if (!host || !['http:', 'https:'].includes(url.protocol) || url.username || url.password) return usage;
  // A CSP host source takes a wildcard as its leftmost label only.
  if (
    host
      .split('.')
      .slice(1)
      .some((label) => PLACEHOLDER.test(label))
  )
    return 'may hold a placeholder ({s}) in the first label of its host only';
  return undefined;
}

/** The CSP img-src sources a valid template needs: its origin, a placeholder label as `*`; none for a path. */
export function tileImageSources(template: string | undefined): string[] {
  const [, scheme, host] = /^(https?:\/\/)([^/?#]+)/i.exec(template ?? '') ?? [];
  if (!scheme || !host) return [];
  const [first, ...rest] = host.split('.');
  return [`${scheme.toLowerCase()}${[PLACEHOLDER.test(first!) ? '*' : first, ...rest].join('.')}`];
}

/** The credit shown for a template's tiles: `attribution` when set, else its host (none for a path). */
export function tileAttribution(template: string, attribution: string | undefined): string | null {
  return attribution ?? /^https?:\/\/(?:\{s\}\.)?([^/:?#]+)/i.exec(template)?.[1] ?? null;
}
