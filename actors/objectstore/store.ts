/**
 * The object store over the replicated KV: buckets, objects (streamed in and out in fixed-size
 * chunks), listing, versions. The layout and the publishing transaction are in core/layout.ts; this
 * module runs the protocol against `ObjectKv`: intent, chunks, one publishing transaction (retried
 * when a concurrent write moved the key, and then conditions are evaluated again), and reads that
 * fetch the record linearizably and then its immutable chunks.
 */
import type { KvKeyValue, KvOp } from '../storage/index.js';
import { BodyDigests, checkContentMd5 } from './checksums.js';
import { decideRead, writeAllowed, type ByteRange, type Preconditions } from './core/conditions.js';
import {
  bucketKey, bucketsPrefix, chunkKey, chunkSlices, decodeRecord, encodeRecord, fromUtf8, garbageKey, garbagePut, invalidBucketName, invalidObjectKey, keepsPrevious,
  keySuccessor, objectKey, objectKeyOf, objectsPrefix, prefixEnd, prefixRange, publishTransaction, rangeOf, uploadsPrefix, utf8, versionKey, versionsPrefix,
  type BucketRecord, type ChecksumAlgorithm, type GarbageRecord, type ObjectExpectation, type ObjectRecord, type Segment,
} from './core/layout.js';
import { placeKey, type ListQuery } from './core/listing.js';
import { S3Error } from './errors.js';
import type { ObjectKv, RangeAnswer } from './kv.js';

/** Bounds and sizes of the store. */
export interface StoreLimits {
  /** Bytes per data chunk (one KV value each). */
  readonly chunkBytes: number;
  /** Chunk writes (and reads ahead) in flight per request: with `chunkBytes`, a request's memory bound. */
  readonly chunksInFlightMax: number;
  /** Largest single PUT (S3: 5 GiB). */
  readonly objectBytesMax: number;
  /** Publishing attempts before a write that keeps losing races gives up with 503 SlowDown. */
  readonly publishAttemptsMax: number;
  /** User metadata bytes (names and values) per object (S3: 2 KiB). */
  readonly metadataBytesMax: number;
}

export const storeLimits: StoreLimits = {
  chunkBytes: 1024 * 1024, chunksInFlightMax: 4, objectBytesMax: 5 * 1024 * 1024 * 1024, publishAttemptsMax: 16, metadataBytesMax: 2048,
};

/** What a store needs besides the KV: time and unique ids. */
export interface StoreEnvironment {
  readonly kv: ObjectKv;
  readonly nowMs: () => number;
  /** A fresh unique id (data ids, upload ids, garbage ids): 32 hex digits. */
  readonly newId: () => string;
  readonly limits?: Partial<StoreLimits>;
}

/** Descriptive fields of a new object. */
export interface ObjectFields {
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
}

/** What the client said the body must hash to (verified before the object is published). */
export interface ExpectedDigests {
  readonly contentMd5?: string;
  readonly sha256Hex?: string;
  /** Sent checksums; a value of `undefined` means "arrives in the trailer" (read from `trailers()` at the end). */
  readonly checksums?: ReadonlyMap<ChecksumAlgorithm, string | undefined>;
  readonly trailers?: () => ReadonlyMap<string, string>;
  /** Declared decoded length; a body of another length is IncompleteBody. */
  readonly length?: number;
}

/** A body that streams in. */
export type BodySource = AsyncIterable<Uint8Array>;

/** What a written body produced. */
export interface WrittenData {
  readonly segment: Segment;
  /**
   * A body of one chunk or less is not written ahead: its bytes come back here and the publishing
   * transaction writes them with the record (no intent, one request). Absent when the chunks (and an
   * intent) were written.
   */
  readonly inline?: Uint8Array;
  readonly md5Hex: string;
  readonly checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/** A version as ListObjectVersions shows it. */
export interface VersionEntry {
  readonly record: ObjectRecord;
  readonly isLatest: boolean;
}

/** Body bytes the store holds in memory (chunk buffers being filled, written or read), now and at most. */
export interface HeldBytes {
  now: number;
  max: number;
}

/** The object store. */
export class ObjectStore {
  readonly kv: ObjectKv;
  readonly limits: StoreLimits;
  /** What bodies cost in memory: a request holds at most `chunkBytes * (chunksInFlightMax + 1)`. */
  readonly held: HeldBytes = { now: 0, max: 0 };
  readonly #env: StoreEnvironment;

  #hold(bytes: number): void {
    this.held.now += bytes;
    if (this.held.now > this.held.max) this.held.max = this.held.now;
  }

  constructor(env: StoreEnvironment) {
    this.#env = env;
    this.kv = env.kv;
    this.limits = { ...storeLimits, ...env.limits };
  }

  now(): number {
    return this.#env.nowMs();
  }

  newId(): string {
    return this.#env.newId();
  }

  /** A version id that sorts newest first: the inverted time, then randomness. */
  newVersionId(): string {
    return `${(2 ** 48 - this.now()).toString(16).padStart(12, '0')}${this.newId().slice(0, 20)}`;
  }

  // Buckets

  async listBuckets(): Promise<BucketRecord[]> {
    const [answer] = await this.kv.read([prefixRange(bucketsPrefix, { limit: 10_000 })]);
    return answer!.kvs.map((kv) => decodeRecord<BucketRecord>(kv.value));
  }

  async createBucket(name: string, options: { publicRead?: boolean } = {}): Promise<void> {
    const invalid = invalidBucketName(name);
    if (invalid !== null) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${invalid}`, { BucketName: name });
    const record: BucketRecord = { name, createdMs: this.now(), ...(options.publicRead ? { publicRead: true } : {}) };
    const outcome = await this.kv.txn({
      compare: [{ key: utf8(bucketKey(name)), target: 'version', operator: '=', value: 0 }],
      success: [{ type: 'put', key: utf8(bucketKey(name)), value: encodeRecord(record) }], failure: [],
    });
    if (!outcome.succeeded) throw new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
  }

  /** The bucket record and its modRevision; NoSuchBucket when absent. */
  async bucket(name: string): Promise<{ record: BucketRecord; modRevision: number }> {
    const [answer] = await this.kv.read([rangeOf(bucketKey(name))]);
    return bucketOf(answer!, name);
  }

  async updateBucket(name: string, change: (record: BucketRecord) => BucketRecord): Promise<void> {
    for (let attempt = 0; attempt < this.limits.publishAttemptsMax; attempt += 1) {
      const { record, modRevision } = await this.bucket(name);
      const outcome = await this.kv.txn({
        compare: [{ key: utf8(bucketKey(name)), target: 'modRevision', operator: '=', value: modRevision }],
        success: [{ type: 'put', key: utf8(bucketKey(name)), value: encodeRecord(change(record)) }], failure: [],
      });
      if (outcome.succeeded) return;
    }
    throw new S3Error('SlowDown', 'the bucket is changing too often; retry');
  }

  /** Deletes an empty bucket: the emptiness check and the delete compare one bucket revision. */
  async deleteBucket(name: string): Promise<void> {
    for (let attempt = 0; attempt < this.limits.publishAttemptsMax; attempt += 1) {
      const [bucketAnswer, objects, uploads, versions] = await this.kv.read([
        rangeOf(bucketKey(name)), prefixRange(objectsPrefix(name), { limit: 1, keysOnly: true }), prefixRange(uploadsPrefix(name), { limit: 1, keysOnly: true }),
        prefixRange(versionsPrefix(name), { limit: 1, keysOnly: true }),
      ]);
      const { modRevision } = bucketOf(bucketAnswer!, name);
      if (objects!.kvs.length + uploads!.kvs.length + versions!.kvs.length > 0) throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
      const outcome = await this.kv.txn({
        compare: [{ key: utf8(bucketKey(name)), target: 'modRevision', operator: '=', value: modRevision }],
        success: [{ type: 'deleteRange', key: utf8(bucketKey(name)) }], failure: [],
      });
      if (outcome.succeeded) return;
    }
    throw new S3Error('SlowDown', 'the bucket is changing too often; retry');
  }

  // Writing

  /**
   * Writes a body as chunks of a new data id, after recording the intent; verifies the digests the
   * client sent. On any failure the intent becomes garbage at once (best effort; the sweeper collects
   * a stale intent anyway).
   */
  async writeData(body: BodySource, expected: ExpectedDigests, sizeMax = this.limits.objectBytesMax): Promise<WrittenData> {
    const dataId = this.newId();
    const intent = { written: false };
    try {
      return await this.#writeChunks(dataId, body, expected, sizeMax, intent);
    } catch (error) {
      if (intent.written) await this.abandon([dataId]).catch(() => undefined);
      throw error;
    }
  }

  /** The ops that write an inline body with its publishing transaction (none for an empty body). */
  static inlineOps(data: WrittenData): KvOp[] {
    return data.inline !== undefined && data.inline.length > 0 ? [{ type: 'put', key: utf8(chunkKey(data.segment.dataId, 0)), value: data.inline }] : [];
  }

  /** The intents a publish of `data` must find (none for inline data). */
  static intentsOf(data: WrittenData): string[] {
    return data.inline !== undefined ? [] : [data.segment.dataId];
  }

  async #writeChunks(dataId: string, body: BodySource, expected: ExpectedDigests, sizeMax: number, intent: { written: boolean }): Promise<WrittenData> {
    const algorithms = [...(expected.checksums?.keys() ?? [])];
    const digests = new BodyDigests({ sha256: expected.sha256Hex !== undefined, algorithms });
    const { chunkBytes, chunksInFlightMax } = this.limits;
    const inFlight = new Set<Promise<unknown>>();
    let failure: unknown;
    let chunk = Buffer.allocUnsafe(chunkBytes);
    this.#hold(chunkBytes);
    let filled = 0;
    let index = 0;
    const flush = async (): Promise<void> => {
      const value = filled === chunkBytes ? chunk : Buffer.from(chunk.subarray(0, filled));
      // The first chunk written ahead of the publish carries the intent in its transaction, so the
      // sweeper can collect the chunks of an upload that never publishes.
      const intentOps: KvOp[] = intent.written ? [] : [garbagePut(dataId, { sinceMs: this.now(), pending: true, dataIds: [dataId] })];
      intent.written = true;
      const write = this.kv.txn({ compare: [], success: [...intentOps, { type: 'put', key: utf8(chunkKey(dataId, index)), value }], failure: [] });
      index += 1;
      chunk = Buffer.allocUnsafe(chunkBytes);
      this.#hold(chunkBytes);
      filled = 0;
      const settled = (): void => {
        inFlight.delete(tracked);
        this.held.now -= chunkBytes;
      };
      const tracked: Promise<unknown> = write.then(settled, (error: unknown) => { failure ??= error; settled(); });
      inFlight.add(tracked);
      // The intent commits before any other chunk is written: no chunk is ever without its intent.
      if (intentOps.length > 0) await tracked;
      // Back-pressure: the body is not read further until a chunk write completes.
      while (inFlight.size >= chunksInFlightMax) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
    };
    try {
      for await (const piece of body) {
        digests.update(piece);
        if (digests.bytes > sizeMax) throw new S3Error('EntityTooLarge', `Your proposed upload exceeds the maximum allowed size (${sizeMax} bytes)`);
        let offset = 0;
        while (offset < piece.length) {
          // A full chunk is written once more bytes follow it: a body of exactly one chunk stays inline.
          if (filled === chunkBytes) await flush();
          const take = Math.min(chunkBytes - filled, piece.length - offset);
          chunk.set(piece.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
        }
      }
      if (filled > 0 && intent.written) await flush();
    } finally {
      await Promise.allSettled(inFlight);
      // The buffer being filled when the body ended (or failed).
      this.held.now -= chunkBytes;
    }
    if (failure !== undefined) throw failure;
    const size = digests.bytes;
    if (expected.length !== undefined && size !== expected.length) throw new S3Error('IncompleteBody', `You did not provide the number of bytes specified by the Content-Length HTTP header (${size} of ${expected.length})`);
    const finished = digests.finish();
    if (expected.contentMd5 !== undefined) {
      checkContentMd5(expected.contentMd5, finished.md5Base64);
    }
    if (expected.sha256Hex !== undefined && expected.sha256Hex !== finished.sha256Hex) throw new S3Error('XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
    const trailers = expected.trailers?.();
    for (const [algorithm, sent] of expected.checksums ?? []) {
      const value = sent ?? trailers?.get(`x-amz-checksum-${algorithm.toLowerCase()}`);
      if (value === undefined) throw new S3Error('InvalidRequest', `the ${algorithm} checksum announced in x-amz-trailer did not arrive`);
      if (value.trim() !== finished.checksums[algorithm]) throw new S3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
    }
    const inline = intent.written ? {} : { inline: Buffer.from(chunk.subarray(0, filled)) };
    return { segment: { dataId, size, chunkBytes }, md5Hex: finished.md5Hex, checksums: finished.checksums, ...inline };
  }

  /** Turns data ids into garbage collectable at once (their intent, if any, is replaced). */
  async abandon(dataIds: readonly string[]): Promise<void> {
    const record: GarbageRecord = { sinceMs: 0, pending: false, dataIds };
    await this.kv.txn({ compare: [], success: [garbagePut(dataIds.length === 1 ? dataIds[0]! : this.newId(), record)], failure: [] });
  }

  /**
   * Publishes `record` for (bucket, key): reads the current state, checks the client's conditions
   * against it, and commits with a compare on exactly that state; a concurrent change makes the
   * compare fail and the whole decision is taken again.
   */
  async publish(bucketName: string, build: (bucket: BucketRecord, current: ObjectRecord | undefined) => ObjectRecord, options: {
    conditions?: Pick<Preconditions, 'ifMatch' | 'ifNoneMatch'>; intents: readonly string[]; extra?: (bucket: BucketRecord) => { ops?: KvOp[]; garbage?: string[] };
    key: string; extraCompares?: Parameters<typeof publishTransaction>[0]['extraCompares'];
  }): Promise<ObjectRecord> {
    for (let attempt = 0; attempt < this.limits.publishAttemptsMax; attempt += 1) {
      const [bucketAnswer, objectAnswer] = await this.kv.read([rangeOf(bucketKey(bucketName)), rangeOf(objectKey(bucketName, options.key))]);
      const { record: bucket } = bucketOf(bucketAnswer!, bucketName);
      const currentKv = objectAnswer!.kvs[0];
      const current = currentKv === undefined ? undefined : decodeRecord<ObjectRecord>(currentKv.value);
      const visible = current?.deleteMarker ? undefined : current;
      if (options.conditions !== undefined && !writeAllowed(options.conditions, visible?.etag)) {
        if (options.conditions.ifMatch !== undefined && visible === undefined) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: options.key });
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: options.conditions.ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Match' });
      }
      const record = build(bucket, current);
      const expectation: ObjectExpectation = currentKv === undefined ? { type: 'absent' } : { type: 'modRevision', modRevision: currentKv.modRevision };
      const extra = options.extra?.(bucket);
      const txn = publishTransaction({
        bucket, record, expectation, intents: options.intents, ...(current !== undefined ? { previous: current } : {}), garbageId: this.newId(), nowMs: this.now(),
        ...(options.extraCompares ? { extraCompares: options.extraCompares } : {}), ...(extra?.ops ? { extraOps: extra.ops } : {}), ...(extra?.garbage ? { extraGarbage: extra.garbage } : {}),
      });
      const outcome = await this.kv.txn(txn);
      if (outcome.succeeded) return record;
      const [bucketNow, , ...intents] = outcome.responses as Array<Extract<typeof outcome.responses[number], { type: 'range' }>>;
      if (bucketNow!.kvs.length === 0) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucketName });
      if (intents.some((answer) => answer.kvs.length === 0)) throw new S3Error('InternalError', 'the upload took longer than the garbage collector waits for; retry it');
      if (options.extraCompares !== undefined && options.extraCompares.length > 0) throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
    }
    throw new S3Error('SlowDown', 'the key is being written too often; retry');
  }

  /** A new object record from written data. */
  objectRecord(bucket: BucketRecord, key: string, fields: ObjectFields, data: { size: number; etag: string; segments: readonly Segment[]; partsCount?: number; checksums?: Partial<Record<ChecksumAlgorithm, string>> }): ObjectRecord {
    const checksums = data.checksums !== undefined && Object.keys(data.checksums).length > 0 ? { checksums: data.checksums } : {};
    return {
      key, size: data.size, etag: data.etag, contentType: fields.contentType, lastModifiedMs: this.now(), metadata: fields.metadata, headers: fields.headers,
      versionId: bucket.versioning === 'Enabled' ? this.newVersionId() : 'null', segments: data.segments,
      ...(data.partsCount !== undefined ? { partsCount: data.partsCount } : {}), ...checksums,
    };
  }

  /** PutObject: stream the body in, verify it, publish it atomically. */
  async putObject(bucketName: string, key: string, body: BodySource, fields: ObjectFields, expected: ExpectedDigests, conditions?: Pick<Preconditions, 'ifMatch' | 'ifNoneMatch'>): Promise<ObjectRecord> {
    checkKey(key);
    checkMetadata(fields.metadata, this.limits.metadataBytesMax);
    // A body larger than one chunk is written ahead: fail early (before reading it) on a missing
    // bucket or a condition that already fails. The publish checks both again either way.
    if (expected.length === undefined || expected.length > this.limits.chunkBytes) {
      await this.bucket(bucketName);
      if (conditions?.ifNoneMatch !== undefined || conditions?.ifMatch !== undefined) await this.#precheck(bucketName, key, conditions);
    }
    const data = await this.writeData(body, expected);
    try {
      return await this.publish(bucketName, (bucket) => this.objectRecord(bucket, key, fields, { size: data.segment.size, etag: data.md5Hex, segments: [data.segment], checksums: data.checksums }), {
        key, intents: ObjectStore.intentsOf(data), ...(conditions ? { conditions } : {}), extra: () => ({ ops: ObjectStore.inlineOps(data) }),
      });
    } catch (error) {
      if (data.inline === undefined) await this.abandon([data.segment.dataId]).catch(() => undefined);
      throw error;
    }
  }

  /** Fails a conditional write early, before its body is stored (the commit checks again). */
  async #precheck(bucketName: string, key: string, conditions: Pick<Preconditions, 'ifMatch' | 'ifNoneMatch'>): Promise<void> {
    const current = await this.current(bucketName, key);
    const visible = current?.record.deleteMarker ? undefined : current?.record;
    if (!writeAllowed(conditions, visible?.etag)) {
      if (conditions.ifMatch !== undefined && visible === undefined) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: conditions.ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Match' });
    }
  }

  // Reading

  /** The current record of a key (delete markers included) with its modRevision; NoSuchBucket when the bucket is absent. */
  async current(bucketName: string, key: string): Promise<{ record: ObjectRecord; modRevision: number } | undefined> {
    const [bucketAnswer, objectAnswer] = await this.kv.read([rangeOf(bucketKey(bucketName)), rangeOf(objectKey(bucketName, key))]);
    bucketOf(bucketAnswer!, bucketName);
    const kv = objectAnswer!.kvs[0];
    return kv === undefined ? undefined : { record: decodeRecord<ObjectRecord>(kv.value), modRevision: kv.modRevision };
  }

  /** The record GET/HEAD serve: the current version, or `versionId`'s; NoSuchKey/NoSuchVersion/MethodNotAllowed as S3 answers. */
  async objectForRead(bucketName: string, key: string, versionId?: string): Promise<ObjectRecord> {
    checkKey(key);
    const current = await this.current(bucketName, key);
    if (versionId === undefined || versionId === current?.record.versionId) {
      if (current === undefined) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
      if (current.record.deleteMarker) {
        if (versionId !== undefined) throw deleteMarkerRefusal(current.record);
        throw Object.assign(new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key }), { deleteMarker: current.record.versionId });
      }
      return current.record;
    }
    const [answer] = await this.kv.read([rangeOf(versionKey(bucketName, key, versionId))]);
    const kv = answer!.kvs[0];
    if (kv === undefined) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
    const record = decodeRecord<ObjectRecord>(kv.value);
    if (record.deleteMarker) throw deleteMarkerRefusal(record);
    return record;
  }

  /** Checks GET/HEAD conditions: throws 412, or returns 'notModified'. */
  static checkRead(record: ObjectRecord, conditions: Preconditions): 'serve' | 'notModified' {
    const decision = decideRead(conditions, record.etag, record.lastModifiedMs);
    if (decision === 'preconditionFailed') throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    return decision;
  }

  /**
   * Streams bytes [first, last] of a record: chunk reads ahead up to `chunksInFlightMax`, each a
   * linearizable read of an immutable key. A chunk that is gone (its object was replaced and collected
   * while this read went on) ends the stream with an error.
   */
  async *readData(record: ObjectRecord, range: ByteRange): AsyncGenerator<Uint8Array, void, void> {
    if (record.size === 0) return;
    const slices = chunkSlices(record.segments, range.first, range.last);
    // Chunks are read in batches (one KV read each, at one revision), two batches in flight: at most
    // `chunksInFlightMax` chunks held, half the reads of one chunk per read.
    const batchChunks = Math.max(1, Math.floor(this.limits.chunksInFlightMax / 2));
    const batches: Array<typeof slices> = [];
    for (let index = 0; index < slices.length; index += batchChunks) batches.push(slices.slice(index, index + batchChunks));
    type Fetched = Array<{ piece: Uint8Array; bytes: number }>;
    const pending: Array<Promise<Fetched>> = [];
    let next = 0;
    let holding = 0;
    const fetch = (batch: typeof slices): Promise<Fetched> => this.kv.read(batch.map((slice) => rangeOf(chunkKey(slice.dataId, slice.index)))).then((answers) => batch.map((slice, position) => {
      const value = answers[position]!.kvs[0]?.value;
      if (value === undefined || value.length < slice.end) throw new S3Error('InternalError', 'a data chunk of this object is missing (the object was replaced while it was read)');
      // The whole chunk value stays referenced until its slice has been consumed.
      holding += value.length;
      this.#hold(value.length);
      return { piece: value.subarray(slice.start, slice.end), bytes: value.length };
    }));
    try {
      while (next < batches.length || pending.length > 0) {
        while (next < batches.length && pending.length < 2) pending.push(fetch(batches[next++]!));
        for (const { piece, bytes } of await pending.shift()!) {
          yield piece;
          holding -= bytes;
          this.held.now -= bytes;
        }
      }
    } finally {
      await Promise.allSettled(pending);
      this.held.now -= holding;
    }
  }

  // Deleting

  /** DeleteObject, with S3's semantics per versioning state; returns what the response headers say. */
  async deleteObject(bucketName: string, key: string, options: { versionId?: string; ifMatch?: string } = {}): Promise<{ versionId?: string; deleteMarker?: boolean }> {
    checkKey(key);
    for (let attempt = 0; attempt < this.limits.publishAttemptsMax; attempt += 1) {
      const [bucketAnswer, objectAnswer] = await this.kv.read([rangeOf(bucketKey(bucketName)), rangeOf(objectKey(bucketName, key))]);
      const { record: bucket } = bucketOf(bucketAnswer!, bucketName);
      const currentKv = objectAnswer!.kvs[0];
      const current = currentKv === undefined ? undefined : decodeRecord<ObjectRecord>(currentKv.value);
      if (options.ifMatch !== undefined && !writeAllowed({ ifMatch: options.ifMatch }, current?.deleteMarker ? undefined : current?.etag)) {
        if (current === undefined || current.deleteMarker) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
      }
      const plan = options.versionId !== undefined && options.versionId !== current?.versionId
        ? await this.#deleteNoncurrent(bucketName, key, options.versionId)
        : await this.#deleteCurrent(bucket, key, current, options.versionId !== undefined);
      if (plan === 'none') return options.versionId !== undefined ? { versionId: options.versionId } : {};
      const compare = [currentKv === undefined
        ? { key: utf8(objectKey(bucketName, key)), target: 'version' as const, operator: '=' as const, value: 0 }
        : { key: utf8(objectKey(bucketName, key)), target: 'modRevision' as const, operator: '=' as const, value: currentKv.modRevision }, ...plan.compares];
      const outcome = await this.kv.txn({ compare, success: [{ type: 'put', key: utf8(bucketKey(bucketName)), value: encodeRecord(bucket) }, ...plan.ops], failure: [] });
      if (outcome.succeeded) return plan.result;
    }
    throw new S3Error('SlowDown', 'the key is being written too often; retry');
  }

  async #deleteCurrent(bucket: BucketRecord, key: string, current: ObjectRecord | undefined, byVersion: boolean): Promise<'none' | DeletePlan> {
    const garbageId = this.newId();
    if (!byVersion && bucket.versioning !== undefined) {
      // A versioned (or suspended) bucket: a delete marker becomes current.
      const marker: ObjectRecord = {
        key, size: 0, etag: '', contentType: '', lastModifiedMs: this.now(), metadata: {}, headers: {}, segments: [], deleteMarker: true,
        versionId: bucket.versioning === 'Enabled' ? this.newVersionId() : 'null',
      };
      const ops: KvOp[] = [{ type: 'put', key: utf8(objectKey(bucket.name, key)), value: encodeRecord(marker) }];
      if (current !== undefined) {
        if (keepsPrevious(bucket, current)) ops.push({ type: 'put', key: utf8(versionKey(bucket.name, key, current.versionId)), value: encodeRecord(current) });
        else if (current.segments.length > 0) ops.push(garbagePut(garbageId, { sinceMs: this.now(), pending: false, dataIds: current.segments.map((segment) => segment.dataId) }));
      }
      return { compares: [], ops, result: { versionId: marker.versionId, deleteMarker: true } };
    }
    if (current === undefined) return 'none';
    // Removing the current version itself: the newest noncurrent one (if any) takes its place.
    const [older] = await this.kv.read([prefixRange(`${versionsPrefix(bucket.name)}${key}\0`, { limit: 1 })]);
    const ops: KvOp[] = [];
    const promoted = older!.kvs[0];
    if (promoted !== undefined) {
      ops.push({ type: 'put', key: utf8(objectKey(bucket.name, key)), value: promoted.value }, { type: 'deleteRange', key: promoted.key });
    } else {
      ops.push({ type: 'deleteRange', key: utf8(objectKey(bucket.name, key)) });
    }
    if (current.segments.length > 0) ops.push(garbagePut(garbageId, { sinceMs: this.now(), pending: false, dataIds: current.segments.map((segment) => segment.dataId) }));
    const compares = promoted !== undefined ? [{ key: promoted.key, target: 'modRevision' as const, operator: '=' as const, value: promoted.modRevision }] : [];
    return { compares, ops, result: { versionId: current.versionId, ...(current.deleteMarker ? { deleteMarker: true } : {}) } };
  }

  async #deleteNoncurrent(bucketName: string, key: string, versionId: string): Promise<'none' | DeletePlan> {
    const [answer] = await this.kv.read([rangeOf(versionKey(bucketName, key, versionId))]);
    const kv = answer!.kvs[0];
    if (kv === undefined) return 'none';
    const record = decodeRecord<ObjectRecord>(kv.value);
    const ops: KvOp[] = [{ type: 'deleteRange', key: kv.key }];
    if (record.segments.length > 0) ops.push(garbagePut(this.newId(), { sinceMs: this.now(), pending: false, dataIds: record.segments.map((segment) => segment.dataId) }));
    return { compares: [{ key: kv.key, target: 'modRevision', operator: '=', value: kv.modRevision }], ops, result: { versionId, ...(record.deleteMarker ? { deleteMarker: true } : {}) } };
  }

  // Listing

  /** Lists a bucket's current objects: Contents and CommonPrefixes, and where the next page starts. */
  async listObjects(bucketName: string, query: ListQuery): Promise<{ contents: ObjectRecord[]; commonPrefixes: string[]; truncated: boolean; nextAfter?: string }> {
    const prefixKey = utf8(objectKey(bucketName, query.prefix));
    const end = prefixEnd(prefixKey);
    const afterKey = utf8(objectKey(bucketName, query.after));
    let start = query.after !== '' && Buffer.compare(afterKey, prefixKey) >= 0 ? keySuccessor(afterKey) : prefixKey;
    const contents: ObjectRecord[] = [];
    const commonPrefixes: string[] = [];
    let last: string | undefined;
    await this.bucket(bucketName);
    if (query.maxKeys === 0) return { contents, commonPrefixes, truncated: false };
    for (;;) {
      const wanted = query.maxKeys - contents.length - commonPrefixes.length + 1;
      // One more than the page needs: the extra key says whether the listing is truncated.
      const [page] = await this.kv.read([{ type: 'range', key: start, rangeEnd: end, limit: Math.min(wanted, 2000) }]);
      let jumped = false;
      for (const kv of page!.kvs) {
        const key = objectKeyOf(bucketName, fromUtf8(kv.key));
        const placement = placeKey(key, query);
        const record = placement.type === 'content' ? decodeRecord<ObjectRecord>(kv.value) : undefined;
        if (record?.deleteMarker === true) {
          start = keySuccessor(kv.key);
          continue;
        }
        if (placement.type === 'commonPrefix' && query.after !== '' && Buffer.compare(utf8(placement.prefix), utf8(query.after)) <= 0 && query.after.startsWith(placement.prefix)) {
          // The listing resumes inside a prefix already returned: skip the rest of it.
          start = prefixEnd(utf8(objectKey(bucketName, placement.prefix)));
          jumped = true;
          break;
        }
        if (contents.length + commonPrefixes.length === query.maxKeys) return { contents, commonPrefixes, truncated: true, ...(last !== undefined ? { nextAfter: last } : {}) };
        if (record !== undefined) {
          contents.push(record);
          last = key;
          start = keySuccessor(kv.key);
        } else if (placement.type === 'commonPrefix') {
          commonPrefixes.push(placement.prefix);
          last = placement.prefix;
          start = prefixEnd(utf8(objectKey(bucketName, placement.prefix)));
          jumped = true;
          break;
        }
      }
      if (!jumped && !page!.more) return { contents, commonPrefixes, truncated: false };
      if (Buffer.compare(start, end) >= 0 && end.length > 0) return { contents, commonPrefixes, truncated: false };
    }
  }

  /** ListObjectVersions: every version (current ones first per key, then noncurrent newest first). */
  async listVersions(bucketName: string, query: { prefix: string; maxKeys: number; keyMarker: string; delimiter: string }): Promise<{ versions: VersionEntry[]; commonPrefixes: string[]; truncated: boolean; nextKeyMarker?: string }> {
    const listed = await this.listObjectsIncludingMarkers(bucketName, query);
    const versions: VersionEntry[] = [];
    for (const record of listed.currents) {
      versions.push({ record, isLatest: true });
      const [older] = await this.kv.read([prefixRange(`${versionsPrefix(bucketName)}${record.key}\0`, { limit: 1000 })]);
      for (const kv of older!.kvs) versions.push({ record: decodeRecord<ObjectRecord>(kv.value), isLatest: false });
    }
    return { versions, commonPrefixes: listed.commonPrefixes, truncated: listed.truncated, ...(listed.nextAfter !== undefined ? { nextKeyMarker: listed.nextAfter } : {}) };
  }

  /** Current records (delete markers included) for version listing; keys whose current version was removed keep only noncurrent ones, found through the versions range. */
  async listObjectsIncludingMarkers(bucketName: string, query: { prefix: string; maxKeys: number; keyMarker: string; delimiter: string }): Promise<{ currents: ObjectRecord[]; commonPrefixes: string[]; truncated: boolean; nextAfter?: string }> {
    await this.bucket(bucketName);
    const prefixKey = utf8(objectKey(bucketName, query.prefix));
    const start = query.keyMarker !== '' ? keySuccessor(utf8(objectKey(bucketName, query.keyMarker))) : prefixKey;
    const [page] = await this.kv.read([{ type: 'range', key: start, rangeEnd: prefixEnd(prefixKey), limit: query.maxKeys + 1 }]);
    const currents: ObjectRecord[] = [];
    const commonPrefixes: string[] = [];
    for (const kv of page!.kvs.slice(0, query.maxKeys)) {
      const record = decodeRecord<ObjectRecord>(kv.value);
      const placement = placeKey(record.key, query);
      if (placement.type === 'commonPrefix') {
        if (!commonPrefixes.includes(placement.prefix)) commonPrefixes.push(placement.prefix);
      } else {
        currents.push(record);
      }
    }
    const truncated = page!.kvs.length > query.maxKeys;
    const lastKv = page!.kvs[Math.min(page!.kvs.length, query.maxKeys) - 1];
    return { currents, commonPrefixes, truncated, ...(truncated && lastKv ? { nextAfter: objectKeyOf(bucketName, fromUtf8(lastKv.key)) } : {}) };
  }
}

interface DeletePlan {
  readonly compares: Array<{ key: Uint8Array; target: 'modRevision'; operator: '='; value: number }>;
  readonly ops: KvOp[];
  readonly result: { versionId?: string; deleteMarker?: boolean };
}

function deleteMarkerRefusal(record: ObjectRecord): S3Error {
  return Object.assign(new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: 'GET', ResourceType: 'DeleteMarker' }), { deleteMarker: record.versionId });
}

function bucketOf(answer: RangeAnswer, name: string): { record: BucketRecord; modRevision: number } {
  const kv: KvKeyValue | undefined = answer.kvs[0];
  if (kv === undefined) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
  return { record: decodeRecord<BucketRecord>(kv.value), modRevision: kv.modRevision };
}

export function checkKey(key: string): void {
  const invalid = invalidObjectKey(key);
  if (invalid !== null) throw new S3Error(key.length === 0 ? 'InvalidArgument' : 'KeyTooLongError', invalid, { Key: key.slice(0, 1024) });
}

function checkMetadata(metadata: Readonly<Record<string, string>>, bytesMax: number): void {
  const bytes = Object.entries(metadata).reduce((total, [name, value]) => total + utf8(name).length + utf8(value).length, 0);
  if (bytes > bytesMax) throw new S3Error('InvalidArgument', `Your metadata headers exceed the maximum allowed metadata size (${bytesMax} bytes)`);
}
