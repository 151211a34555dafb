/**
 * How buckets, objects, multipart uploads and their data lie in the replicated KV (byte-ordered keys,
 * transactions with compares, ranges; actors/raft). Pure: no I/O, no clock, no randomness (times and
 * ids come in as arguments).
 *
 * Keys (all under `s3/`; `\0` separates a bucket from a key because bucket names never hold it):
 *
 *   s3/b/<bucket>                        bucket record (JSON); its modRevision moves with every publish
 *                                        in the bucket, so DeleteBucket can compare "nothing changed
 *                                        since I saw it empty"
 *   s3/o/<bucket>\0<key>                 the current object record (metadata and its data segments)
 *   s3/v/<bucket>\0<key>\0<version>      noncurrent versions of versioned buckets (version ids sort
 *                                        newest first)
 *   s3/d/<dataId>/<chunk, 8 hex digits>  object data in fixed-size chunks, never rewritten
 *   s3/u/<bucket>\0<key>\0<uploadId>     an open multipart upload; its modRevision moves with every part
 *   s3/p/<uploadId>/<part, 5 digits>     an uploaded part (its data segment)
 *   s3/g/<id>                            data to collect: an intent (written before the chunks of a PUT
 *                                        or part, deleted by the transaction that publishes them) or the
 *                                        segments of a replaced object, with the time they became garbage
 *   s3/k/<accessKeyId>                   an access key and its secret
 *
 * The write protocol that keeps a crash or leader change from exposing a partial object: write the
 * intent, then the chunks (each its own request), then ONE transaction that compares (the bucket
 * exists, the intent still exists, the object key is at the revision the writer saw or the condition
 * the client asked for) and publishes the record, deletes the intent and records the replaced data
 * as garbage. Until that transaction commits, readers see the previous object; after, the new one
 * whole. The sweeper deletes chunks only through garbage records, and a publish whose intent it has
 * swept fails its compare instead of exposing missing chunks.
 */
import type { KvCompare, KvOp, KvRangeOp, KvTxn } from '../../storage/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The KV key prefix every object-store key lives under. */
export const keyPrefix = 's3/';

/** One contiguous run of an object's bytes: `size` bytes in chunks of `chunkBytes` under `s3/d/<dataId>/`. */
export interface Segment {
  readonly dataId: string;
  readonly size: number;
  readonly chunkBytes: number;
}

/** The checksum algorithms S3 clients send (`x-amz-checksum-<name>`). */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256';

/** A bucket. */
export interface BucketRecord {
  readonly name: string;
  readonly createdMs: number;
  /** Absent: never enabled. */
  readonly versioning?: 'Enabled' | 'Suspended';
  /** Anonymous GET/HEAD/list allowed (`x-amz-acl: public-read`). */
  readonly publicRead?: boolean;
}

/** An object version: metadata plus where its bytes lie. */
export interface ObjectRecord {
  readonly key: string;
  readonly size: number;
  /** The ETag without quotes: hex MD5, or `<hex md5 of part md5s>-<parts>` for multipart. */
  readonly etag: string;
  readonly contentType: string;
  readonly lastModifiedMs: number;
  /** `x-amz-meta-*` headers, names lower-cased without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Stored representation headers returned on GET (cache-control, content-disposition, ...). */
  readonly headers: Readonly<Record<string, string>>;
  /** 'null' for objects written while versioning was never enabled or is suspended. */
  readonly versionId: string;
  readonly segments: readonly Segment[];
  readonly partsCount?: number;
  /** Full-object checksums the client sent and the gateway verified, base64. */
  readonly checksums?: Readonly<Partial<Record<ChecksumAlgorithm, string>>>;
  /** A delete marker of a versioned bucket (no data). */
  readonly deleteMarker?: boolean;
}

/** An open multipart upload. */
export interface UploadRecord {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly initiatedMs: number;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly checksumAlgorithm?: ChecksumAlgorithm;
}

/** An uploaded part. */
export interface PartRecord {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
  readonly lastModifiedMs: number;
  readonly segment: Segment;
  readonly checksums?: Readonly<Partial<Record<ChecksumAlgorithm, string>>>;
}

/** Data to collect once `sinceMs` plus the grace period has passed. */
export interface GarbageRecord {
  readonly sinceMs: number;
  /** True for an intent: data being written that no record refers to yet. */
  readonly pending: boolean;
  readonly dataIds: readonly string[];
}

/** An access key. */
export interface AccessKeyRecord {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly createdMs: number;
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export const bucketsPrefix = `${keyPrefix}b/`;
export const garbagePrefix = `${keyPrefix}g/`;
export const accessKeysPrefix = `${keyPrefix}k/`;

export const bucketKey = (bucket: string): string => `${bucketsPrefix}${bucket}`;
export const objectsPrefix = (bucket: string): string => `${keyPrefix}o/${bucket}\0`;
export const objectKey = (bucket: string, key: string): string => `${objectsPrefix(bucket)}${key}`;
export const versionsPrefix = (bucket: string): string => `${keyPrefix}v/${bucket}\0`;
export const versionKey = (bucket: string, key: string, versionId: string): string => `${versionsPrefix(bucket)}${key}\0${versionId}`;
export const dataPrefix = (dataId: string): string => `${keyPrefix}d/${dataId}/`;
export const chunkKey = (dataId: string, index: number): string => `${dataPrefix(dataId)}${index.toString(16).padStart(8, '0')}`;
export const uploadsPrefix = (bucket: string): string => `${keyPrefix}u/${bucket}\0`;
export const uploadKey = (bucket: string, key: string, uploadId: string): string => `${uploadsPrefix(bucket)}${key}\0${uploadId}`;
export const partsPrefix = (uploadId: string): string => `${keyPrefix}p/${uploadId}/`;
export const partKey = (uploadId: string, partNumber: number): string => `${partsPrefix(uploadId)}${String(partNumber).padStart(5, '0')}`;
export const garbageKey = (id: string): string => `${garbagePrefix}${id}`;
export const accessKeyKey = (accessKeyId: string): string => `${accessKeysPrefix}${accessKeyId}`;

/** The object key of a KV key under `objectsPrefix(bucket)`. */
export function objectKeyOf(bucket: string, kvKey: string): string {
  return kvKey.slice(objectsPrefix(bucket).length);
}

/** Encodes a record as the KV value (JSON in UTF-8). */
export function encodeRecord(record: object): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Decodes a record; a value that is not a JSON object is a corrupt store (an invariant, not input). */
export function decodeRecord<T>(value: Uint8Array): T {
  const parsed: unknown = JSON.parse(decoder.decode(value));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('object store: a record is not a JSON object');
  return parsed as T;
}

/** Number of chunks of a segment. */
export function chunkCount(segment: Pick<Segment, 'size' | 'chunkBytes'>): number {
  return Math.ceil(segment.size / segment.chunkBytes);
}

/** One chunk read: which chunk, and which bytes of it ([start, end), relative to the chunk). */
export interface ChunkSlice {
  readonly dataId: string;
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

/**
 * The chunk reads that produce bytes [first, last] (inclusive, as in a Range header) of an object
 * made of `segments`, in order.
 */
export function chunkSlices(segments: readonly Segment[], first: number, last: number): ChunkSlice[] {
  const slices: ChunkSlice[] = [];
  let base = 0;
  for (const segment of segments) {
    const segmentEnd = base + segment.size;
    if (segmentEnd > first && base <= last) {
      const from = Math.max(first, base) - base;
      const to = Math.min(last + 1, segmentEnd) - base;
      for (let index = Math.floor(from / segment.chunkBytes); index * segment.chunkBytes < to; index += 1) {
        const chunkStart = index * segment.chunkBytes;
        slices.push({ dataId: segment.dataId, index, start: Math.max(from, chunkStart) - chunkStart, end: Math.min(to, chunkStart + segment.chunkBytes) - chunkStart });
      }
    }
    base = segmentEnd;
    if (base > last) break;
  }
  return slices;
}

/** The smallest key after every key that starts with `prefix` (etcd's prefix range end). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let position = end.length - 1; position >= 0; position -= 1) {
    if (end[position]! < 0xff) {
      end[position] = end[position]! + 1;
      return end.slice(0, position + 1);
    }
  }
  return new Uint8Array([0]);
}

/** The smallest key after `key` itself (its successor in byte order). */
export function keySuccessor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/** How a publish is conditioned on the object key's current state. */
export type ObjectExpectation =
  | { readonly type: 'absent' }
  | { readonly type: 'modRevision'; readonly modRevision: number };

const exists = (key: string): KvCompare => ({ key: utf8(key), target: 'version', operator: '>', value: 0 });

function expectationCompare(key: string, expectation: ObjectExpectation): KvCompare {
  return expectation.type === 'absent'
    ? { key: utf8(key), target: 'version', operator: '=', value: 0 }
    : { key: utf8(key), target: 'modRevision', operator: '=', value: expectation.modRevision };
}

/** What a publishing transaction needs. */
export interface PublishObject {
  readonly bucket: BucketRecord;
  readonly record: ObjectRecord;
  /** The object key's state the writer saw (or the one the client's condition asks for). */
  readonly expectation: ObjectExpectation;
  /** Intents of the data this record refers to; each must still exist (not swept). */
  readonly intents: readonly string[];
  /** The record being replaced, if any (its data becomes garbage, or a noncurrent version). */
  readonly previous?: ObjectRecord;
  /** Id of the garbage record for replaced data. */
  readonly garbageId: string;
  readonly nowMs: number;
  /** Extra ops in the same transaction (multipart completion deletes its upload and parts). */
  readonly extraCompares?: readonly KvCompare[];
  readonly extraOps?: readonly KvOp[];
  /** Data ids to collect besides the replaced object's (parts a completion left out). */
  readonly extraGarbage?: readonly string[];
}

/**
 * The one transaction that makes an object visible. On failure it reads back the bucket, the object
 * key and the intents, so the caller can tell which compare failed.
 */
export function publishTransaction(publish: PublishObject): KvTxn {
  const { bucket, record } = publish;
  const key = objectKey(bucket.name, record.key);
  const compare: KvCompare[] = [exists(bucketKey(bucket.name)), expectationCompare(key, publish.expectation), ...publish.intents.map((id) => exists(garbageKey(id))), ...(publish.extraCompares ?? [])];
  const success: KvOp[] = [
    { type: 'put', key: utf8(bucketKey(bucket.name)), value: encodeRecord(bucket) },
    { type: 'put', key: utf8(key), value: encodeRecord(record) },
    ...publish.intents.map((id): KvOp => ({ type: 'deleteRange', key: utf8(garbageKey(id)) })),
    ...(publish.extraOps ?? []),
  ];
  const garbage = [...(publish.extraGarbage ?? [])];
  const previous = publish.previous;
  if (previous !== undefined) {
    if (keepsPrevious(bucket, previous)) success.push({ type: 'put', key: utf8(versionKey(bucket.name, previous.key, previous.versionId)), value: encodeRecord(previous) });
    else garbage.push(...previous.segments.map((segment) => segment.dataId));
  }
  if (garbage.length > 0) success.push(garbagePut(publish.garbageId, { sinceMs: publish.nowMs, pending: false, dataIds: garbage }));
  return { compare, success, failure: [rangeOf(bucketKey(bucket.name)), rangeOf(key), ...publish.intents.map((id) => rangeOf(garbageKey(id)))] };
}

/** A versioned bucket keeps the replaced version as noncurrent; otherwise (or for a 'null' version under suspension) it is replaced. */
export function keepsPrevious(bucket: BucketRecord, previous: ObjectRecord): boolean {
  if (bucket.versioning === 'Enabled') return true;
  if (bucket.versioning === 'Suspended') return previous.versionId !== 'null';
  return false;
}

export function garbagePut(id: string, record: GarbageRecord): KvOp {
  return { type: 'put', key: utf8(garbageKey(id)), value: encodeRecord(record) };
}

export function rangeOf(key: string): KvRangeOp {
  return { type: 'range', key: utf8(key) };
}

/** The ops of one range over every key starting with `prefix`, from `after` (exclusive) if given. */
export function prefixRange(prefix: string, options: { after?: string; from?: string; limit?: number; keysOnly?: boolean } = {}): KvRangeOp {
  const prefixBytes = utf8(prefix);
  const start = options.after !== undefined ? keySuccessor(utf8(options.after)) : options.from !== undefined ? utf8(options.from) : prefixBytes;
  return { type: 'range', key: start, rangeEnd: prefixEnd(prefixBytes), ...(options.limit !== undefined ? { limit: options.limit } : {}), ...(options.keysOnly ? { keysOnly: true } : {}) };
}

/** Validates a bucket name by S3's rules for new buckets; returns why it is invalid, or null. */
export function invalidBucketName(name: string): string | null {
  if (name.length < 3 || name.length > 63) return 'bucket names are 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return 'bucket names use lowercase letters, digits, dots and hyphens, and start and end with a letter or digit';
  if (name.includes('..')) return 'bucket names do not hold two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'bucket names are not IP addresses';
  return null;
}

/** Longest object key in UTF-8 bytes (S3's limit). */
export const objectKeyBytesMax = 1024;

/** Validates an object key; returns why it is invalid, or null. */
export function invalidObjectKey(key: string): string | null {
  if (key.length === 0) return 'the object key is empty';
  if (utf8(key).length > objectKeyBytesMax) return `object keys are at most ${objectKeyBytesMax} bytes`;
  if (key.includes('\0')) return 'object keys do not hold NUL';
  return null;
}
