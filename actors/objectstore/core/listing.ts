/**
 * Listing objects as ListObjects (V1) and ListObjectsV2 do: keys in UTF-8 byte order under a prefix,
 * after a marker, with a delimiter folding keys into CommonPrefixes (each prefix counts once toward
 * `max-keys`), and a continuation token that resumes after the last key or prefix returned.
 *
 * The scan itself is the shell's (it reads pages of the KV); this module decides, for each key read,
 * whether it is listed, folded into a prefix, and where the next read starts.
 */

/** What a listing asks for. */
export interface ListQuery {
  readonly prefix: string;
  readonly delimiter: string;
  /** Keys and prefixes returned at most (0 to 1000). */
  readonly maxKeys: number;
  /** Start strictly after this key (marker, start-after, or a decoded continuation token). */
  readonly after: string;
}

/** Where a key falls in a listing. */
export type KeyPlacement =
  | { readonly type: 'content' }
  | { readonly type: 'commonPrefix'; readonly prefix: string };

/** Folds `key` under the query's delimiter: a common prefix when the delimiter occurs after the prefix. */
export function placeKey(key: string, query: Pick<ListQuery, 'prefix' | 'delimiter'>): KeyPlacement {
  if (query.delimiter === '') return { type: 'content' };
  const at = key.indexOf(query.delimiter, query.prefix.length);
  return at < 0 ? { type: 'content' } : { type: 'commonPrefix', prefix: key.slice(0, at + query.delimiter.length) };
}

/** The maximum `max-keys` S3 returns per page. */
export const maxKeysMax = 1000;

/** Parses `max-keys`: absent means 1000; larger values are clamped; negative or non-numeric is invalid. */
export function parseMaxKeys(value: string | null): number | 'invalid' {
  if (value === null || value === '') return maxKeysMax;
  if (!/^\d+$/.test(value)) return 'invalid';
  return Math.min(maxKeysMax, Number(value));
}

/** A continuation token: the key (or prefix) the page ended at, base64url of its UTF-8. */
export function encodeContinuationToken(after: string): string {
  const bytes = new TextEncoder().encode(after);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes a continuation token; undefined when it is not one this gateway made. */
export function decodeContinuationToken(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(token)) return undefined;
  try {
    const binary = atob(token.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

/** S3's `encoding-type=url`: percent-encoding of a key as S3 sends it (every byte but unreserved ones and '/'). */
export function urlEncodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/').replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
