/**
 * Multipart uploads over the object store: an upload record, parts written like objects (intent,
 * chunks, one transaction that publishes the part record and moves the upload's modRevision), and a
 * completion that checks the listed parts (core/multipart.ts) and publishes the object, deletes the
 * upload and its parts, and records unlisted parts as garbage, all in the one publishing transaction,
 * compared on the upload revision it read, so a part that lands meanwhile makes it try again.
 */
import type { KvKeyValue } from '../storage/index.js';
import type { Preconditions } from './core/conditions.js';
import {
  decodeRecord, encodeRecord, garbagePut, partKey, partsPrefix, prefixEnd, prefixRange, rangeOf, uploadKey, uploadsPrefix, utf8, keySuccessor,
  type ChecksumAlgorithm, type ObjectRecord, type PartRecord, type UploadRecord,
} from './core/layout.js';
import { checkCompletion, multipartEtag, multipartLimits, type MultipartLimits, type RequestedPart } from './core/multipart.js';
import { S3Error } from './errors.js';
import { ObjectStore, checkKey, type BodySource, type ExpectedDigests, type ObjectFields } from './store.js';

/** Multipart operations over one store. */
export class Uploads {
  readonly #store: ObjectStore;
  readonly limits: MultipartLimits;

  constructor(store: ObjectStore, limits: Partial<MultipartLimits> = {}) {
    this.#store = store;
    this.limits = { ...multipartLimits, ...limits };
  }

  async create(bucketName: string, key: string, fields: ObjectFields, checksumAlgorithm?: ChecksumAlgorithm): Promise<UploadRecord> {
    checkKey(key);
    await this.#store.bucket(bucketName);
    const record: UploadRecord = { bucket: bucketName, key, uploadId: this.#store.newId(), initiatedMs: this.#store.now(), ...fields, ...(checksumAlgorithm ? { checksumAlgorithm } : {}) };
    const outcome = await this.#store.kv.txn({
      compare: [{ key: utf8(`s3/b/${bucketName}`), target: 'version', operator: '>', value: 0 }],
      success: [{ type: 'put', key: utf8(uploadKey(bucketName, key, record.uploadId)), value: encodeRecord(record) }], failure: [],
    });
    if (!outcome.succeeded) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucketName });
    return record;
  }

  /** The upload record and its modRevision; NoSuchUpload when absent. */
  async upload(bucketName: string, key: string, uploadId: string): Promise<{ record: UploadRecord; kv: KvKeyValue }> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw noSuchUpload(uploadId);
    const [bucket, answer] = await this.#store.kv.read([rangeOf(`s3/b/${bucketName}`), rangeOf(uploadKey(bucketName, key, uploadId))]);
    if (bucket!.kvs.length === 0) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucketName });
    const kv = answer!.kvs[0];
    if (kv === undefined) throw noSuchUpload(uploadId);
    return { record: decodeRecord<UploadRecord>(kv.value), kv };
  }

  /** UploadPart (and the write half of UploadPartCopy): stores the part, replacing one of the same number. */
  async uploadPart(bucketName: string, key: string, uploadId: string, partNumber: number, body: BodySource, expected: ExpectedDigests): Promise<PartRecord> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > this.limits.partNumberMax) throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${this.limits.partNumberMax}, inclusive`, { ArgumentName: 'partNumber' });
    const { record: upload } = await this.upload(bucketName, key, uploadId);
    const data = await this.#store.writeData(body, expected, this.limits.partBytesMax);
    const part: PartRecord = {
      partNumber, etag: data.md5Hex, size: data.segment.size, lastModifiedMs: this.#store.now(), segment: data.segment,
      ...(Object.keys(data.checksums).length > 0 ? { checksums: data.checksums } : {}),
    };
    const uploadKv = utf8(uploadKey(bucketName, key, uploadId));
    for (let attempt = 0; attempt < this.#store.limits.publishAttemptsMax; attempt += 1) {
      const [previousAnswer] = await this.#store.kv.read([rangeOf(partKey(uploadId, partNumber))]);
      const previous = previousAnswer!.kvs[0];
      const replaced = previous === undefined ? [] : [decodeRecord<PartRecord>(previous.value).segment.dataId];
      const outcome = await this.#store.kv.txn({
        compare: [
          { key: uploadKv, target: 'version', operator: '>', value: 0 },
          ...ObjectStore.intentsOf(data).map((id) => ({ key: utf8(`s3/g/${id}`), target: 'version' as const, operator: '>' as const, value: 0 })),
          previous === undefined ? { key: utf8(partKey(uploadId, partNumber)), target: 'version', operator: '=', value: 0 } : { key: previous.key, target: 'modRevision', operator: '=', value: previous.modRevision },
        ],
        success: [
          { type: 'put', key: utf8(partKey(uploadId, partNumber)), value: encodeRecord(part) },
          { type: 'put', key: uploadKv, value: encodeRecord(upload) },
          ...ObjectStore.intentsOf(data).map((id) => ({ type: 'deleteRange' as const, key: utf8(`s3/g/${id}`) })),
          ...ObjectStore.inlineOps(data),
          ...(replaced.length > 0 ? [garbagePut(this.#store.newId(), { sinceMs: this.#store.now(), pending: false, dataIds: replaced })] : []),
        ],
        failure: [rangeOf(uploadKey(bucketName, key, uploadId))],
      });
      if (outcome.succeeded) return part;
      const uploadNow = outcome.responses[0];
      if (uploadNow?.type === 'range' && uploadNow.kvs.length === 0) {
        if (data.inline === undefined) await this.#store.abandon([data.segment.dataId]).catch(() => undefined);
        throw noSuchUpload(uploadId);
      }
    }
    if (data.inline === undefined) await this.#store.abandon([data.segment.dataId]).catch(() => undefined);
    throw new S3Error('SlowDown', 'the part is being written too often; retry');
  }

  /** Every part of an upload, in part-number order. */
  async parts(uploadId: string): Promise<PartRecord[]> {
    const [answer] = await this.#store.kv.read([prefixRange(partsPrefix(uploadId), { limit: this.limits.partNumberMax })]);
    return answer!.kvs.map((kv) => decodeRecord<PartRecord>(kv.value));
  }

  /** CompleteMultipartUpload: publishes the object from the listed parts. */
  async complete(bucketName: string, key: string, uploadId: string, requested: readonly RequestedPart[], conditions?: Pick<Preconditions, 'ifMatch' | 'ifNoneMatch'>): Promise<ObjectRecord> {
    for (let attempt = 0; attempt < this.#store.limits.publishAttemptsMax; attempt += 1) {
      const { record: upload, kv: uploadKv } = await this.upload(bucketName, key, uploadId);
      const uploaded = new Map((await this.parts(uploadId)).map((part) => [part.partNumber, part]));
      const checked = checkCompletion(requested, uploaded, this.limits);
      if (!Array.isArray(checked)) throw new S3Error(checked.code, checked.message);
      const listed = new Set(checked.map((part) => part.partNumber));
      const unlisted = [...uploaded.values()].filter((part) => !listed.has(part.partNumber)).map((part) => part.segment.dataId);
      const fields: ObjectFields = { contentType: upload.contentType, metadata: upload.metadata, headers: upload.headers };
      const size = checked.reduce((total, part) => total + part.size, 0);
      try {
        return await this.#store.publish(bucketName, (bucket) => this.#store.objectRecord(bucket, key, fields, { size, etag: multipartEtag(checked.map((part) => part.etag)), segments: checked.map((part) => part.segment), partsCount: checked.length }), {
          key, intents: [], ...(conditions ? { conditions } : {}),
          extraCompares: [{ key: uploadKv.key, target: 'modRevision', operator: '=', value: uploadKv.modRevision }],
          extra: () => ({ ops: [{ type: 'deleteRange', key: uploadKv.key }, { type: 'deleteRange', key: utf8(partsPrefix(uploadId)), rangeEnd: prefixEnd(utf8(partsPrefix(uploadId))) }], garbage: unlisted }),
        });
      } catch (error) {
        // The upload moved (a part landed) between the read and the commit: decide again.
        if (error instanceof S3Error && error.s3Code === 'NoSuchUpload') {
          const still = await this.upload(bucketName, key, uploadId).then(() => true, () => false);
          if (still) continue;
        }
        throw error;
      }
    }
    throw new S3Error('SlowDown', 'the upload is changing too often; retry');
  }

  /** AbortMultipartUpload: deletes the upload and its parts; their data becomes garbage. */
  async abort(bucketName: string, key: string, uploadId: string): Promise<void> {
    for (let attempt = 0; attempt < this.#store.limits.publishAttemptsMax; attempt += 1) {
      const { kv: uploadKv } = await this.upload(bucketName, key, uploadId);
      const parts = await this.parts(uploadId);
      const outcome = await this.#store.kv.txn({
        compare: [{ key: uploadKv.key, target: 'modRevision', operator: '=', value: uploadKv.modRevision }],
        success: [
          { type: 'deleteRange', key: uploadKv.key },
          { type: 'deleteRange', key: utf8(partsPrefix(uploadId)), rangeEnd: prefixEnd(utf8(partsPrefix(uploadId))) },
          ...(parts.length > 0 ? [garbagePut(this.#store.newId(), { sinceMs: this.#store.now(), pending: false, dataIds: parts.map((part) => part.segment.dataId) })] : []),
        ],
        failure: [],
      });
      if (outcome.succeeded) return;
    }
    throw new S3Error('SlowDown', 'the upload is changing too often; retry');
  }

  /** ListMultipartUploads: open uploads in key order, then upload id, after the markers. */
  async list(bucketName: string, query: { prefix: string; keyMarker: string; uploadIdMarker: string; maxUploads: number }): Promise<{ uploads: UploadRecord[]; truncated: boolean }> {
    await this.#store.bucket(bucketName);
    const base = uploadsPrefix(bucketName);
    const prefixBytes = utf8(`${base}${query.prefix}`);
    let start = prefixBytes;
    if (query.keyMarker !== '') {
      const marker = query.uploadIdMarker !== '' ? keySuccessor(utf8(uploadKey(bucketName, query.keyMarker, query.uploadIdMarker))) : prefixEnd(utf8(`${base}${query.keyMarker}\0`));
      if (Buffer.compare(marker, start) > 0) start = marker;
    }
    const [answer] = await this.#store.kv.read([{ type: 'range', key: start, rangeEnd: prefixEnd(prefixBytes), limit: query.maxUploads + 1 }]);
    const uploads = answer!.kvs.slice(0, query.maxUploads).map((kv) => decodeRecord<UploadRecord>(kv.value));
    return { uploads, truncated: answer!.kvs.length > query.maxUploads || answer!.more };
  }
}

function noSuchUpload(uploadId: string): S3Error {
  return new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
}
