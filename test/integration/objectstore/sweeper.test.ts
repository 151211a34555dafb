/**
 * Garbage collection over the real replicated KV: the data of an overwritten or deleted object is
 * collected once its grace period has passed and never before, the data of an upload that never
 * published (a gateway that died mid-PUT) is collected after the intent's grace, and a publish
 * whose intent was collected fails instead of exposing missing chunks.
 */
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Error, chunkKey, objectKey, prefixEnd, storeLimits, sweepDefaults, sweepOnce, utf8, type ObjectRecord } from '../../../actors/objectstore/index.js';
import { startLocalGateway, type LocalGateway } from '../../support/objectstore-local.js';

let local: LocalGateway;
let s3: S3Client;

beforeAll(async () => {
  local = await startLocalGateway();
  s3 = local.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'garbage' }));
});

afterAll(async () => {
  await local?.stop();
});

async function record(key: string): Promise<ObjectRecord> {
  const [answer] = await local.gateway.store.kv.read([{ type: 'range', key: utf8(objectKey('garbage', key)) }]);
  return JSON.parse(new TextDecoder().decode(answer!.kvs[0]!.value)) as ObjectRecord;
}

async function chunksOf(dataId: string): Promise<number> {
  const prefix = utf8(chunkKey(dataId, 0).slice(0, -8));
  const [answer] = await local.gateway.store.kv.read([{ type: 'range', key: prefix, rangeEnd: prefixEnd(prefix), keysOnly: true }]);
  return answer!.kvs.length;
}

async function* bodyOf(bytes: number): AsyncGenerator<Uint8Array, void, void> {
  yield Buffer.alloc(bytes, 1);
}

describe('the sweeper', () => {
  it('collects the chunks of an overwritten and of a deleted object after the grace period, not before', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'garbage', Key: 'replaced', Body: Buffer.alloc(storeLimits.chunkBytes * 2 + 1000, 1) }));
    const old = (await record('replaced')).segments[0]!.dataId;
    await s3.send(new PutObjectCommand({ Bucket: 'garbage', Key: 'replaced', Body: 'new' }));
    const current = (await record('replaced')).segments[0]!.dataId;
    expect(await chunksOf(old)).toBe(3);
    const now = Date.now();
    await sweepOnce(local.gateway.store.kv, now);
    expect(await chunksOf(old)).toBe(3);
    const swept = await sweepOnce(local.gateway.store.kv, now + sweepDefaults.garbageGraceMs + 1_000);
    expect(swept.collected).toBeGreaterThanOrEqual(1);
    expect(await chunksOf(old)).toBe(0);
    expect(await chunksOf(current)).toBe(1);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'garbage', Key: 'replaced' }))).Body!.transformToString()).toBe('new');
    await s3.send(new DeleteObjectCommand({ Bucket: 'garbage', Key: 'replaced' }));
    await sweepOnce(local.gateway.store.kv, Date.now() + sweepDefaults.garbageGraceMs + 1_000);
    expect(await chunksOf(current)).toBe(0);
  });

  it('collects the data of an upload that never published after the intent grace, and that upload cannot publish then', async () => {
    const store = local.gateway.store;
    const written = await store.writeData(bodyOf(storeLimits.chunkBytes + 1000), {});
    expect(await chunksOf(written.segment.dataId)).toBe(2);
    await sweepOnce(store.kv, Date.now() + sweepDefaults.garbageGraceMs + 1_000);
    expect(await chunksOf(written.segment.dataId)).toBe(2);
    await sweepOnce(store.kv, Date.now() + sweepDefaults.pendingGraceMs + 1_000);
    expect(await chunksOf(written.segment.dataId)).toBe(0);
    const late = store.publish('garbage', (bucket) => store.objectRecord(bucket, 'late', { contentType: 'x', metadata: {}, headers: {} }, { size: written.segment.size, etag: written.md5Hex, segments: [written.segment] }), { key: 'late', intents: [written.segment.dataId] });
    await expect(late).rejects.toSatisfy((error: unknown) => error instanceof S3Error && error.s3Code === 'InternalError');
    await expect(s3.send(new GetObjectCommand({ Bucket: 'garbage', Key: 'late' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });
});
