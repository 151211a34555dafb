/**
 * The S3 gateway with the real AWS SDK (@aws-sdk/client-s3 v3, default checksum settings) on a 3-node
 * cluster of real processes: buckets, objects, ranges, conditional requests, copies, listings,
 * versions, and the errors S3 answers with. Requests go to different nodes' gateways.
 */
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketVersioningCommand, GetObjectCommand, HeadBucketCommand,
  HeadObjectCommand, ListBucketsCommand, ListObjectsCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Failure, startGatewayCluster, type GatewayCluster } from '../../support/objectstore-cluster.js';

let local: GatewayCluster;
let s3: S3Client;

beforeAll(async () => {
  local = await startGatewayCluster();
  s3 = local.client();
});

afterAll(async () => {
  await local?.stop();
});

const failure = s3Failure;

const text = async (output: { Body?: { transformToString(): Promise<string> } }): Promise<string> => output.Body!.transformToString();

describe('buckets', () => {
  it('creates, heads, lists and deletes buckets, refusing a non-empty one and a second create', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'bucket-crud' }));
    await s3.send(new HeadBucketCommand({ Bucket: 'bucket-crud' }));
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((bucket) => bucket.Name)).toContain('bucket-crud');
    expect(await failure(s3.send(new CreateBucketCommand({ Bucket: 'bucket-crud' })))).toEqual({ code: 'BucketAlreadyOwnedByYou', status: 409 });
    await s3.send(new PutObjectCommand({ Bucket: 'bucket-crud', Key: 'x', Body: 'x' }));
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'bucket-crud' })))).toEqual({ code: 'BucketNotEmpty', status: 409 });
    await s3.send(new DeleteObjectCommand({ Bucket: 'bucket-crud', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'bucket-crud' }));
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: 'bucket-crud' })))).toMatchObject({ status: 404 });
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'bucket-crud' })))).toEqual({ code: 'NoSuchBucket', status: 404 });
    expect(await failure(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).toEqual({ code: 'InvalidBucketName', status: 400 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })))).toEqual({ code: 'NoSuchBucket', status: 404 });
  });
});

describe('objects', () => {
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'objects' }));
  });

  it('puts and gets an object with its metadata, content headers and ETag, byte for byte across chunks', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024 + 700 * 1024 + 3);
    for (let index = 0; index < body.length; index += 1) body[index] = (index * 31 + 7) & 0xff;
    const put = await s3.send(new PutObjectCommand({
      Bucket: 'objects', Key: 'dir/file ✓.bin', Body: body, ContentType: 'application/x-test', Metadata: { color: 'blue' }, CacheControl: 'max-age=60', ContentDisposition: 'attachment',
    }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file ✓.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.ETag).toBe(put.ETag);
    expect(got).toMatchObject({ ContentType: 'application/x-test', Metadata: { color: 'blue' }, CacheControl: 'max-age=60', ContentDisposition: 'attachment', ContentLength: body.length });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'dir/file ✓.bin' }));
    expect(head).toMatchObject({ ContentLength: body.length, ETag: put.ETag, Metadata: { color: 'blue' } });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'missing' })))).toEqual({ code: 'NoSuchKey', status: 404 });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'missing' })))).toMatchObject({ status: 404 });
  });

  it('serves ranges (206 with Content-Range) and refuses an unsatisfiable one with InvalidRange', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'range', Body: '0123456789' }));
    const part = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'range', Range: 'bytes=2-5' }));
    expect(await text(part)).toBe('2345');
    expect(part.ContentRange).toBe('bytes 2-5/10');
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'range', Range: 'bytes=-3' })))).toBe('789');
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'range', Range: 'bytes=7-' })))).toBe('789');
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'range', Range: 'bytes=10-20' })))).toEqual({ code: 'InvalidRange', status: 416 });
  });

  it('evaluates If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since on GET', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'conditional', Body: 'v1' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'conditional' }));
    const before = new Date(head.LastModified!.getTime() - 60_000);
    const after = new Date(head.LastModified!.getTime() + 60_000);
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfMatch: put.ETag })))).toBe('v1');
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfMatch: '"0000"' })))).toEqual({ code: 'PreconditionFailed', status: 412 });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfNoneMatch: put.ETag })))).toMatchObject({ status: 304 });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfModifiedSince: after })))).toMatchObject({ status: 304 });
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfModifiedSince: before })))).toBe('v1');
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfUnmodifiedSince: before })))).toEqual({ code: 'PreconditionFailed', status: 412 });
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'conditional', IfUnmodifiedSince: after })))).toBe('v1');
  });

  it('makes conditional writes atomic: If-None-Match: * creates once, If-Match replaces only the ETag it names', async () => {
    const created = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'create-once', Body: 'first', IfNoneMatch: '*' }));
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'create-once', Body: 'second', IfNoneMatch: '*' })))).toEqual({ code: 'PreconditionFailed', status: 412 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'create-once', Body: 'third', IfMatch: '"ffffffffffffffffffffffffffffffff"' })))).toEqual({ code: 'PreconditionFailed', status: 412 });
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'create-once', Body: 'fourth', IfMatch: created.ETag }));
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'create-once' })))).toBe('fourth');
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'never-there', Body: 'x', IfMatch: created.ETag })))).toEqual({ code: 'NoSuchKey', status: 404 });
    expect(await failure(s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'create-once', IfMatch: created.ETag })))).toEqual({ code: 'PreconditionFailed', status: 412 });
  });

  it('gives concurrent If-None-Match: * PUTs of one key exactly one winner', async () => {
    const attempts = await Promise.allSettled(Array.from({ length: 8 }, (_, index) => s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'race', Body: `writer-${index}`, IfNoneMatch: '*' }))));
    const winners = attempts.flatMap((attempt, index) => (attempt.status === 'fulfilled' ? [index] : []));
    expect(winners).toHaveLength(1);
    for (const attempt of attempts) if (attempt.status === 'rejected') expect((attempt.reason as S3ServiceException).name).toBe('PreconditionFailed');
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'race' })))).toBe(`writer-${winners[0]}`);
  });

  it('refuses a body that does not match its Content-MD5 or its checksum, and leaves the old object in place', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'digest', Body: 'kept' }));
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'digest', Body: 'changed', ContentMD5: '1B2M2Y8AsgTpgAmY7PhCfg==' })))).toEqual({ code: 'BadDigest', status: 400 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'digest', Body: 'changed', ChecksumCRC32: 'AAAAAA==' })))).toEqual({ code: 'BadDigest', status: 400 });
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'digest' })))).toBe('kept');
    for (const ChecksumAlgorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
      const put = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: `checksum-${ChecksumAlgorithm}`, Body: `body ${ChecksumAlgorithm}`, ChecksumAlgorithm }));
      expect(put.ETag).toBeDefined();
      const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: `checksum-${ChecksumAlgorithm}`, ChecksumMode: 'ENABLED' }));
      expect(await text(got)).toBe(`body ${ChecksumAlgorithm}`);
    }
  });

  it('deletes one object and many, reporting each key', async () => {
    for (const key of ['d1', 'd2', 'd3']) await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: key, Body: key }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'd1' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'd1' }));
    const batch = await s3.send(new DeleteObjectsCommand({ Bucket: 'objects', Delete: { Objects: [{ Key: 'd2' }, { Key: 'd3' }, { Key: 'never' }] } }));
    expect(batch.Deleted?.map((deleted) => deleted.Key).sort()).toEqual(['d2', 'd3', 'never']);
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'd2' })))).toMatchObject({ code: 'NoSuchKey' });
  });

  it('copies objects, keeping or replacing metadata, and refuses a copy onto itself that changes nothing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'source', Body: 'copied bytes', ContentType: 'text/plain', Metadata: { a: '1' } }));
    const copied = await s3.send(new CopyObjectCommand({ Bucket: 'objects', Key: 'copy', CopySource: 'objects/source' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'copy' }));
    expect(await text(got)).toBe('copied bytes');
    expect(got).toMatchObject({ ContentType: 'text/plain', Metadata: { a: '1' }, ETag: copied.CopyObjectResult?.ETag });
    await s3.send(new CopyObjectCommand({ Bucket: 'objects', Key: 'source', CopySource: 'objects/source', MetadataDirective: 'REPLACE', Metadata: { b: '2' }, ContentType: 'text/x' }));
    expect(await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'source' }))).toMatchObject({ Metadata: { b: '2' }, ContentType: 'text/x' });
    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'objects', Key: 'source', CopySource: 'objects/source' })))).toEqual({ code: 'InvalidRequest', status: 400 });
    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'objects', Key: 'copy2', CopySource: 'objects/missing' })))).toEqual({ code: 'NoSuchKey', status: 404 });
    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'objects', Key: 'copy2', CopySource: 'objects/source', CopySourceIfMatch: '"0"' })))).toEqual({ code: 'PreconditionFailed', status: 412 });
  });
});

describe('listing', () => {
  const keys = ['a.txt', 'b/1.txt', 'b/2.txt', 'b/c/3.txt', 'd e+f.txt', 'z/1', 'z/2'];
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'listing' }));
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: 'listing', Key, Body: Key }))));
  });

  it('lists every key in byte order, at once after the writes (list-after-write)', async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'listing' }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(keys);
    expect(listed.KeyCount).toBe(keys.length);
    expect(listed.Contents?.[0]).toMatchObject({ Size: 5, StorageClass: 'STANDARD' });
  });

  it('folds keys into CommonPrefixes with a delimiter, under a prefix', async () => {
    const top = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
    expect(top.Contents?.map((object) => object.Key)).toEqual(['a.txt', 'd e+f.txt']);
    expect(top.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(['b/', 'z/']);
    const inner = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', Prefix: 'b/' }));
    expect(inner.Contents?.map((object) => object.Key)).toEqual(['b/1.txt', 'b/2.txt']);
    expect(inner.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(['b/c/']);
  });

  it('pages with max-keys and continuation tokens (V2) and markers (V1), each key or prefix once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', MaxKeys: 1, ContinuationToken: token }));
      seen.push(...(listed.Contents ?? []).map((object) => object.Key!), ...(listed.CommonPrefixes ?? []).map((prefix) => prefix.Prefix!));
      if (!listed.IsTruncated) break;
      token = listed.NextContinuationToken;
    }
    expect(seen).toEqual(['a.txt', 'b/', 'd e+f.txt', 'z/']);
    const v1: string[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 20; page += 1) {
      const listed = await s3.send(new ListObjectsCommand({ Bucket: 'listing', MaxKeys: 2, Marker: marker }));
      v1.push(...(listed.Contents ?? []).map((object) => object.Key!));
      if (!listed.IsTruncated) break;
      marker = listed.NextMarker ?? listed.Contents![listed.Contents!.length - 1]!.Key;
    }
    expect(v1).toEqual(keys);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'b/2.txt' }));
    expect(after.Contents?.map((object) => object.Key)).toEqual(['b/c/3.txt', 'd e+f.txt', 'z/1', 'z/2']);
  });

  it('url-encodes keys with encoding-type=url (the SDK decodes them back)', async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'd ', EncodingType: 'url' }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['d%20e%2Bf.txt']);
  });

  it('answers NoSuchBucket for a listing of a missing bucket', async () => {
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: 'missing-bucket' })))).toEqual({ code: 'NoSuchBucket', status: 404 });
  });
});

describe('versioning', () => {
  it('keeps versions, reads and deletes by version id, and hides a key behind a delete marker', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'versions' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'versions', VersioningConfiguration: { Status: 'Enabled' } }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'versions' }))).Status).toBe('Enabled');
    const first = await s3.send(new PutObjectCommand({ Bucket: 'versions', Key: 'doc', Body: 'one' }));
    const second = await s3.send(new PutObjectCommand({ Bucket: 'versions', Key: 'doc', Body: 'two' }));
    expect(first.VersionId).toBeDefined();
    expect(second.VersionId).not.toBe(first.VersionId);
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'doc' })))).toBe('two');
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'doc', VersionId: first.VersionId })))).toBe('one');
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'doc' }));
    expect(deleted.DeleteMarker).toBe(true);
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'doc' })))).toEqual({ code: 'NoSuchKey', status: 404 });
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'versions' }));
    expect(listed.DeleteMarkers?.map((marker) => [marker.VersionId, marker.IsLatest])).toEqual([[deleted.VersionId, true]]);
    expect(listed.Versions?.map((version) => version.VersionId)).toEqual([second.VersionId, first.VersionId]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'versions' }))).Contents ?? []).toEqual([]);
    await s3.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'doc', VersionId: deleted.VersionId }));
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'doc' })))).toBe('two');
    await s3.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'doc', VersionId: first.VersionId }));
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'versions', Key: 'doc', VersionId: first.VersionId })))).toEqual({ code: 'NoSuchVersion', status: 404 });
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'versions' })))).toEqual({ code: 'BucketNotEmpty', status: 409 });
  });
});
