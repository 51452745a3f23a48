// A URL as shown to someone who may not use it: its origin only. The path and query of Slack-, Teams- or
// PagerDuty-style webhook URLs are the credential; anyone who reads them can post as the integration.
export function maskedUrl(url: string): string;
export function maskedUrl(url: string | null): string | null;
export function maskedUrl(url: string | null): string | null {
  if (!url) return url;
  try {
    const parsed = new URL(url);
    return parsed.pathname === '/' && !parsed.search ? `${parsed.origin}/` : `${parsed.origin}/…`;
  } catch {
    return '…';
  }
}
