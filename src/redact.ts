import { createHash } from 'node:crypto';

/** Replaces the value of every SAS `sig` parameter with REDACTED; the rest of the URL stays readable. */
export function redactSas(text: string): string {
  return text.replace(/([?&](?:amp;)?sig=)[^&\s"'<>]+/gi, '$1REDACTED');
}

/** The URL without its query string (and so without any SAS). */
export function stripQuery(url: string): string {
  const i = url.search(/[?#]/);
  return i === -1 ? url : url.slice(0, i);
}

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

/** decodeURIComponent that never throws: a hand-edited setting may hold a malformed escape. */
function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The SAS expiry (`se`) of a URL, when it has one. */
export function sasExpiry(url: string): Date | undefined {
  const match = /[?&]se=([^&]+)/i.exec(url);
  if (!match?.[1]) return undefined;
  const date = new Date(decode(match[1]));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Every SAS signature in a URL, for masking. */
export function sasSignatures(url: string): string[] {
  return [...url.matchAll(/[?&]sig=([^&\s]+)/gi)].flatMap((m) => (m[1] ? [m[1], decode(m[1])] : []));
}
