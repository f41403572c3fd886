/**
 * The target of the `rel="next"` link in an HTTP `Link` header (RFC 8288), as written (possibly relative),
 * or undefined when there is none.
 */
export function parseNextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  const linkPattern = /<([^>]*)>((?:\s*;\s*[^;,]+)*)/g;
  for (const match of header.matchAll(linkPattern)) {
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes('next')) return match[1];
  }
  return undefined;
}
