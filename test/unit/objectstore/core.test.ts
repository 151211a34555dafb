import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkCompletion, chunkSlices, decideRead, decodeContinuationToken, encodeContinuationToken, invalidBucketName, invalidObjectKey, multipartEtag, parseMaxKeys, parseRange,
  placeKey, prefixEnd, publishTransaction, urlEncodeKey, utf8, writeAllowed,
} from '../../../actors/objectstore/index.js';

describe('data layout', () => {
  it('maps a byte range onto the chunks of several segments, with offsets inside each chunk', () => {
    const segments = [{ dataId: 'a', size: 10, chunkBytes: 4 }, { dataId: 'b', size: 5, chunkBytes: 4 }];
    expect(chunkSlices(segments, 0, 14)).toEqual([
      { dataId: 'a', index: 0, start: 0, end: 4 }, { dataId: 'a', index: 1, start: 0, end: 4 }, { dataId: 'a', index: 2, start: 0, end: 2 },
      { dataId: 'b', index: 0, start: 0, end: 4 }, { dataId: 'b', index: 1, start: 0, end: 1 },
    ]);
    expect(chunkSlices(segments, 5, 11)).toEqual([
      { dataId: 'a', index: 1, start: 1, end: 4 }, { dataId: 'a', index: 2, start: 0, end: 2 }, { dataId: 'b', index: 0, start: 0, end: 2 },
    ]);
    expect(chunkSlices(segments, 14, 14)).toEqual([{ dataId: 'b', index: 1, start: 0, end: 1 }]);
  });

  it('ends a prefix range at the next byte string, carrying past 0xFF', () => {
    expect([...prefixEnd(new Uint8Array([0x61, 0x62]))]).toEqual([0x61, 0x63]);
    expect([...prefixEnd(new Uint8Array([0x61, 0xff]))]).toEqual([0x62]);
    expect([...prefixEnd(new Uint8Array([0xff]))]).toEqual([0]);
  });

  it('publishes in one transaction that compares the bucket, the expected object state and the intent, and collects the replaced data', () => {
    const bucket = { name: 'photos', createdMs: 1 };
    const record = { key: 'k', size: 3, etag: 'e', contentType: 't', lastModifiedMs: 2, metadata: {}, headers: {}, versionId: 'null', segments: [{ dataId: 'new', size: 3, chunkBytes: 4 }] };
    const previous = { ...record, segments: [{ dataId: 'old', size: 3, chunkBytes: 4 }] };
    const txn = publishTransaction({ bucket, record, expectation: { type: 'modRevision', modRevision: 7 }, intents: ['new'], previous, garbageId: 'g1', nowMs: 5 });
    expect(txn.compare.map((compare) => [new TextDecoder().decode(compare.key), compare.target, compare.operator, compare.value])).toEqual([
      ['s3/b/photos', 'version', '>', 0], ['s3/o/photos\0k', 'modRevision', '=', 7], ['s3/g/new', 'version', '>', 0],
    ]);
    const keys = txn.success.map((op) => `${op.type} ${new TextDecoder().decode(op.key)}`);
    expect(keys).toEqual(['put s3/b/photos', 'put s3/o/photos\0k', 'deleteRange s3/g/new', 'put s3/g/g1']);
    const garbage = txn.success[3]!;
    expect(garbage.type === 'put' && JSON.parse(new TextDecoder().decode(garbage.value))).toEqual({ sinceMs: 5, pending: false, dataIds: ['old'] });
  });

  it('keeps the replaced version as noncurrent in a versioned bucket instead of collecting it', () => {
    const bucket = { name: 'photos', createdMs: 1, versioning: 'Enabled' as const };
    const record = { key: 'k', size: 0, etag: 'e', contentType: 't', lastModifiedMs: 2, metadata: {}, headers: {}, versionId: 'v2', segments: [] };
    const txn = publishTransaction({ bucket, record, expectation: { type: 'absent' }, intents: [], previous: { ...record, versionId: 'v1' }, garbageId: 'g', nowMs: 5 });
    expect(txn.success.map((op) => new TextDecoder().decode(op.key))).toEqual(['s3/b/photos', 's3/o/photos\0k', 's3/v/photos\0k\0v1']);
  });

  it('validates bucket names and object keys by S3 rules', () => {
    expect(invalidBucketName('my-bucket.1')).toBeNull();
    for (const name of ['ab', 'A-bucket', '-bucket', 'bucket-', 'a..b', '192.168.1.1', 'x'.repeat(64), 'under_score']) expect(invalidBucketName(name)).not.toBeNull();
    expect(invalidObjectKey('a/b c/✓')).toBeNull();
    expect(invalidObjectKey('')).not.toBeNull();
    expect(invalidObjectKey('é'.repeat(513))).not.toBeNull();
    expect(utf8('é'.repeat(512)).length).toBe(1024);
    expect(invalidObjectKey('é'.repeat(512))).toBeNull();
  });
});

describe('conditional requests (RFC 9110 with S3 precedence)', () => {
  const etag = 'abc';
  const modified = Date.UTC(2026, 0, 10, 12, 0, 0, 500);
  it('decides GET conditions', () => {
    expect(decideRead({}, etag, modified)).toBe('serve');
    expect(decideRead({ ifMatch: '"abc"' }, etag, modified)).toBe('serve');
    expect(decideRead({ ifMatch: '"xyz", "abc"' }, etag, modified)).toBe('serve');
    expect(decideRead({ ifMatch: '"xyz"' }, etag, modified)).toBe('preconditionFailed');
    expect(decideRead({ ifNoneMatch: '"abc"' }, etag, modified)).toBe('notModified');
    expect(decideRead({ ifNoneMatch: '*' }, etag, modified)).toBe('notModified');
    expect(decideRead({ ifModifiedSince: 'Sat, 10 Jan 2026 12:00:00 GMT' }, etag, modified)).toBe('notModified');
    expect(decideRead({ ifModifiedSince: 'Sat, 10 Jan 2026 11:59:59 GMT' }, etag, modified)).toBe('serve');
    expect(decideRead({ ifUnmodifiedSince: 'Sat, 10 Jan 2026 11:59:59 GMT' }, etag, modified)).toBe('preconditionFailed');
    expect(decideRead({ ifUnmodifiedSince: 'Sat, 10 Jan 2026 12:00:00 GMT' }, etag, modified)).toBe('serve');
  });

  it('lets If-Match override a failing If-Unmodified-Since, and If-None-Match override If-Modified-Since (S3 precedence)', () => {
    expect(decideRead({ ifMatch: '"abc"', ifUnmodifiedSince: 'Sat, 10 Jan 2026 11:00:00 GMT' }, etag, modified)).toBe('serve');
    expect(decideRead({ ifNoneMatch: '"xyz"', ifModifiedSince: 'Sat, 10 Jan 2026 13:00:00 GMT' }, etag, modified)).toBe('serve');
  });

  it('decides conditional writes', () => {
    expect(writeAllowed({ ifNoneMatch: '*' }, undefined)).toBe(true);
    expect(writeAllowed({ ifNoneMatch: '*' }, 'abc')).toBe(false);
    expect(writeAllowed({ ifMatch: '"abc"' }, 'abc')).toBe(true);
    expect(writeAllowed({ ifMatch: '"abc"' }, 'xyz')).toBe(false);
    expect(writeAllowed({ ifMatch: '"abc"' }, undefined)).toBe(false);
  });

  it('parses ranges as S3 does: suffixes, open ends, clamping, unsatisfiable, and ignored malformed ones', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ first: 0, last: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ first: 90, last: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ first: 90, last: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ first: 50, last: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-0', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-2', 100)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange('items=0-1', 100)).toBeUndefined();
  });
});

describe('multipart rules', () => {
  const part = (partNumber: number, size: number) => ({ partNumber, etag: createHash('md5').update(String(partNumber)).digest('hex'), size, lastModifiedMs: 0, segment: { dataId: `d${partNumber}`, size, chunkBytes: 4 } });
  const uploaded = new Map([[1, part(1, 5 * 1024 * 1024)], [2, part(2, 5 * 1024 * 1024)], [3, part(3, 10)], [4, part(4, 10)]]);
  const ask = (numbers: number[]) => numbers.map((partNumber) => ({ partNumber, etag: `"${uploaded.get(partNumber)?.etag ?? 'ffff'}"` }));

  it('accepts ascending parts whose ETags match, all but the last at least 5 MiB', () => {
    const checked = checkCompletion(ask([1, 2, 3]), uploaded);
    expect(Array.isArray(checked) && checked.map((p) => p.partNumber)).toEqual([1, 2, 3]);
  });

  it('refuses InvalidPartOrder, InvalidPart and EntityTooSmall', () => {
    expect(checkCompletion(ask([2, 1]), uploaded)).toMatchObject({ code: 'InvalidPartOrder' });
    expect(checkCompletion(ask([1, 1]), uploaded)).toMatchObject({ code: 'InvalidPartOrder' });
    expect(checkCompletion(ask([1, 5]), uploaded)).toMatchObject({ code: 'InvalidPart' });
    expect(checkCompletion([{ partNumber: 1, etag: '"00000000000000000000000000000000"' }], uploaded)).toMatchObject({ code: 'InvalidPart' });
    expect(checkCompletion(ask([3, 4]), uploaded)).toMatchObject({ code: 'EntityTooSmall' });
    expect(checkCompletion([], uploaded)).toMatchObject({ code: 'MalformedXML' });
  });

  it('computes the ETag as the MD5 of the binary part MD5s with the part count', () => {
    const etags = [1, 2, 3].map((n) => uploaded.get(n)!.etag);
    const expected = createHash('md5').update(Buffer.concat(etags.map((etag) => Buffer.from(etag, 'hex')))).digest('hex');
    expect(multipartEtag(etags)).toBe(`${expected}-3`);
  });
});

describe('listing', () => {
  it('folds keys under the delimiter after the prefix into common prefixes', () => {
    expect(placeKey('photos/2026/a.jpg', { prefix: 'photos/', delimiter: '/' })).toEqual({ type: 'commonPrefix', prefix: 'photos/2026/' });
    expect(placeKey('photos/a.jpg', { prefix: 'photos/', delimiter: '/' })).toEqual({ type: 'content' });
    expect(placeKey('a--b--c', { prefix: '', delimiter: '--' })).toEqual({ type: 'commonPrefix', prefix: 'a--' });
    expect(placeKey('a/b', { prefix: '', delimiter: '' })).toEqual({ type: 'content' });
  });

  it('round-trips continuation tokens and refuses foreign ones', () => {
    for (const key of ['', 'a', 'photos/2026/✓ é.jpg', 'x'.repeat(1024)]) expect(decodeContinuationToken(encodeContinuationToken(key))).toBe(key);
    expect(decodeContinuationToken('not a token!')).toBeUndefined();
  });

  it('parses max-keys and url-encodes keys as S3 does', () => {
    expect(parseMaxKeys(null)).toBe(1000);
    expect(parseMaxKeys('5000')).toBe(1000);
    expect(parseMaxKeys('0')).toBe(0);
    expect(parseMaxKeys('-1')).toBe('invalid');
    expect(urlEncodeKey("a b/c+d(1)*'!.txt")).toBe('a%20b/c%2Bd%281%29%2A%27%21.txt');
  });
});
