/**
 * Conditional requests and ranges as S3 evaluates them (RFC 9110 sections 13 and 14, with S3's
 * documented precedence): pure functions over header values, the object's ETag and last-modified
 * time (compared at one-second resolution, the resolution of the Last-Modified header).
 */

/** The conditional headers of a request (absent ones undefined). */
export interface Preconditions {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
  readonly ifModifiedSince?: string;
  readonly ifUnmodifiedSince?: string;
}

/** What the conditions decide for a read: serve it, 304 Not Modified, or 412 Precondition Failed. */
export type ReadDecision = 'serve' | 'notModified' | 'preconditionFailed';

/** The entity tags of an If-Match / If-None-Match value; `*` as the single element '*'. */
export function entityTags(value: string): string[] {
  return value.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '').map((tag) => {
    const strong = tag.startsWith('W/') ? tag.slice(2) : tag;
    return strong.startsWith('"') && strong.endsWith('"') && strong.length >= 2 ? strong.slice(1, -1) : strong;
  });
}

/** True when the header's tags match `etag` (or the header is `*` and the object exists). */
export function tagsMatch(value: string, etag: string | undefined): boolean {
  const tags = entityTags(value);
  if (tags.includes('*')) return etag !== undefined;
  return etag !== undefined && tags.includes(etag);
}

/** An HTTP date in seconds since the epoch, or undefined when it does not parse. */
export function httpDateSeconds(value: string): number | undefined {
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * GET/HEAD: If-Match then If-Unmodified-Since (ignored when If-Match is present and holds), then
 * If-None-Match then If-Modified-Since (ignored when If-None-Match is present).
 */
export function decideRead(conditions: Preconditions, etag: string, lastModifiedMs: number): ReadDecision {
  const modifiedSeconds = Math.floor(lastModifiedMs / 1000);
  if (conditions.ifMatch !== undefined) {
    if (!tagsMatch(conditions.ifMatch, etag)) return 'preconditionFailed';
  } else if (conditions.ifUnmodifiedSince !== undefined) {
    const since = httpDateSeconds(conditions.ifUnmodifiedSince);
    if (since !== undefined && modifiedSeconds > since) return 'preconditionFailed';
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (tagsMatch(conditions.ifNoneMatch, etag)) return 'notModified';
  } else if (conditions.ifModifiedSince !== undefined) {
    const since = httpDateSeconds(conditions.ifModifiedSince);
    if (since !== undefined && modifiedSeconds <= since) return 'notModified';
  }
  return 'serve';
}

/**
 * PUT/DELETE/CompleteMultipartUpload: `If-None-Match: *` requires the key to be absent, `If-Match`
 * requires its current ETag (a missing object fails it: S3 answers 404 NoSuchKey for DELETE and 412
 * for writes; the caller picks). Returns true when the write may go ahead.
 */
export function writeAllowed(conditions: Pick<Preconditions, 'ifMatch' | 'ifNoneMatch'>, currentEtag: string | undefined): boolean {
  if (conditions.ifNoneMatch !== undefined && tagsMatch(conditions.ifNoneMatch, currentEtag)) return false;
  if (conditions.ifMatch !== undefined && !tagsMatch(conditions.ifMatch, currentEtag)) return false;
  return true;
}

/** A satisfiable byte range, inclusive. */
export interface ByteRange {
  readonly first: number;
  readonly last: number;
}

/**
 * A Range header against an object of `size` bytes: the range to serve, 'unsatisfiable' (416
 * InvalidRange), or undefined when there is no usable range (absent, malformed or multi-range: S3
 * serves the whole object then).
 */
export function parseRange(value: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (value === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (match === null) return undefined;
  const [, from, to] = match;
  if (from === '' && to === '') return undefined;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0) return 'unsatisfiable';
    if (size === 0) return 'unsatisfiable';
    return { first: Math.max(0, size - suffix), last: size - 1 };
  }
  const first = Number(from);
  const last = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (to !== '' && Number(to) < first) return undefined;
  if (first >= size) return 'unsatisfiable';
  return { first, last };
}
