/**
 * A URL fit for a log line: query values are replaced, since download URLs carry signatures
 * and some APIs take keys in the query string.
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.search) return u.toString();
    const keys = [...u.searchParams.keys()];
    return `${u.origin}${u.pathname}?${keys.map((k) => `${encodeURIComponent(k)}=…`).join('&')}`;
  } catch {
    return '(unparseable URL)';
  }
}
