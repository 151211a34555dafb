/**
 * On a 3-node cluster of real processes: multipart uploads (the SDK's commands and
 * @aws-sdk/lib-storage), checksum settings (WHEN_SUPPORTED, the default, and WHEN_REQUIRED),
 * authentication (wrong secrets, unknown keys, anonymous requests, presigned URLs, virtual-host-style
 * addressing) with the real JavaScript SDK, and then Python's boto3 from PyPI (installed into the cache
 * by test/services/s3-peers.ts) through another node: every operation and error as boto3-client.py
 * reports them.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent } from 'node:http';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, ListPartsCommand, PutBucketAclCommand, PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBoto3 } from '../../services/s3-peers.js';
import { runCommand } from '../../support/children.js';
import { clusterCredentials as testCredentials, s3Failure, startGatewayCluster, type GatewayCluster } from '../../support/objectstore-cluster.js';

let local: GatewayCluster;
let s3: S3Client;
const mebibyte = 1024 * 1024;

beforeAll(async () => {
  local = await startGatewayCluster();
  s3 = local.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
});

afterAll(async () => {
  await local?.stop();
});

const failure = s3Failure;

function pattern(bytes: number, seed: number): Buffer {
  const buffer = Buffer.alloc(bytes + 4);
  for (let index = 0; index < bytes; index += 4) buffer.writeUInt32LE(((index + seed) * 2654435761) >>> 0, index);
  return buffer.subarray(0, bytes);
}

const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();

describe('multipart uploads', () => {
  it('uploads parts, lists them and the upload, completes with the md5-of-md5s-N ETag, and reads back every byte', async () => {
    const parts = [pattern(5 * mebibyte, 1), pattern(5 * mebibyte, 2), pattern(123_457, 3)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'uploads', Key: 'big', ContentType: 'application/x-big', Metadata: { origin: 'multipart' } }));
    const etags: string[] = [];
    for (const [index, Body] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: 'uploads', Key: 'big', UploadId, PartNumber: index + 1, Body }))).ETag!);
    const listedParts = await s3.send(new ListPartsCommand({ Bucket: 'uploads', Key: 'big', UploadId }));
    expect(listedParts.Parts?.map((part) => [part.PartNumber, part.ETag, part.Size])).toEqual(parts.map((part, index) => [index + 1, etags[index], part.length]));
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'uploads' }));
    expect(uploads.Uploads?.map((upload) => [upload.Key, upload.UploadId])).toEqual([['big', UploadId]]);
    const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'uploads', Key: 'big', UploadId, MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) } }));
    const expectedEtag = `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-3"`;
    expect(completed.ETag).toBe(expectedEtag);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'big' }));
    expect(got).toMatchObject({ ETag: expectedEtag, ContentType: 'application/x-big', Metadata: { origin: 'multipart' }, ContentLength: 10 * mebibyte + 123_457 });
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts))).toBe(true);
    const across = await s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'big', Range: `bytes=${5 * mebibyte - 10}-${5 * mebibyte + 9}` }));
    expect(Buffer.from(await across.Body!.transformToByteArray()).equals(Buffer.concat(parts).subarray(5 * mebibyte - 10, 5 * mebibyte + 10))).toBe(true);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'uploads' }))).Uploads ?? []).toEqual([]);
  });

  it('refuses InvalidPart, InvalidPartOrder, EntityTooSmall, and NoSuchUpload after an abort', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'uploads', Key: 'bad' }));
    const small1 = await s3.send(new UploadPartCommand({ Bucket: 'uploads', Key: 'bad', UploadId, PartNumber: 1, Body: 'a' }));
    const small2 = await s3.send(new UploadPartCommand({ Bucket: 'uploads', Key: 'bad', UploadId, PartNumber: 2, Body: 'b' }));
    const complete = (Parts: Array<{ ETag: string; PartNumber: number }>) => s3.send(new CompleteMultipartUploadCommand({ Bucket: 'uploads', Key: 'bad', UploadId, MultipartUpload: { Parts } }));
    expect(await failure(complete([{ ETag: small1.ETag!, PartNumber: 1 }, { ETag: '"00000000000000000000000000000000"', PartNumber: 2 }]))).toEqual({ code: 'InvalidPart', status: 400 });
    expect(await failure(complete([{ ETag: small2.ETag!, PartNumber: 2 }, { ETag: small1.ETag!, PartNumber: 1 }]))).toEqual({ code: 'InvalidPartOrder', status: 400 });
    expect(await failure(complete([{ ETag: small1.ETag!, PartNumber: 1 }, { ETag: small2.ETag!, PartNumber: 2 }]))).toEqual({ code: 'EntityTooSmall', status: 400 });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'uploads', Key: 'bad', UploadId }));
    expect(await failure(complete([{ ETag: small1.ETag!, PartNumber: 1 }]))).toEqual({ code: 'NoSuchUpload', status: 404 });
    expect(await failure(s3.send(new UploadPartCommand({ Bucket: 'uploads', Key: 'bad', UploadId, PartNumber: 3, Body: 'c' })))).toEqual({ code: 'NoSuchUpload', status: 404 });
    expect(await failure(s3.send(new ListPartsCommand({ Bucket: 'uploads', Key: 'bad', UploadId })))).toEqual({ code: 'NoSuchUpload', status: 404 });
  });

  it('copies a range of an object into a part (UploadPartCopy)', async () => {
    const source = pattern(6 * mebibyte, 9);
    await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'copy-source', Body: source }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'uploads', Key: 'copied' }));
    const first = await s3.send(new UploadPartCopyCommand({ Bucket: 'uploads', Key: 'copied', UploadId, PartNumber: 1, CopySource: 'uploads/copy-source', CopySourceRange: `bytes=0-${5 * mebibyte - 1}` }));
    const second = await s3.send(new UploadPartCopyCommand({ Bucket: 'uploads', Key: 'copied', UploadId, PartNumber: 2, CopySource: 'uploads/copy-source', CopySourceRange: `bytes=${5 * mebibyte}-${6 * mebibyte - 1}` }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'uploads', Key: 'copied', UploadId, MultipartUpload: { Parts: [{ ETag: first.CopyPartResult!.ETag!, PartNumber: 1 }, { ETag: second.CopyPartResult!.ETag!, PartNumber: 2 }] } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'copied' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(source)).toBe(true);
  });

  it('takes a streamed lib-storage Upload in parts, with default checksums and with WHEN_REQUIRED', async () => {
    const data = pattern(11 * mebibyte + 5, 4);
    for (const [key, client] of [['lib-default', s3], ['lib-required', local.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })]] as const) {
      const upload = new Upload({ client, params: { Bucket: 'uploads', Key: key, Body: Readable.from([data.subarray(0, 3 * mebibyte), data.subarray(3 * mebibyte)]) }, partSize: 5 * mebibyte, queueSize: 2 });
      const done = await upload.done();
      expect(done.ETag).toMatch(/-3"$/);
      const got = await client.send(new GetObjectCommand({ Bucket: 'uploads', Key: key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    }
  });

  it('streams a PutObject body of unknown length through aws-chunked with a trailing checksum', async () => {
    const data = pattern(600 * 1024, 5);
    await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'streamed', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'streamed' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });
});

describe('authentication', () => {
  it('refuses a wrong secret with SignatureDoesNotMatch and an unknown key with InvalidAccessKeyId', async () => {
    const wrong = local.client({ credentials: { accessKeyId: testCredentials.accessKeyId, secretAccessKey: 'not-the-secret' } });
    expect(await failure(wrong.send(new ListObjectsV2Command({ Bucket: 'uploads' })))).toEqual({ code: 'SignatureDoesNotMatch', status: 403 });
    const unknown = local.client({ credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x' } });
    expect(await failure(unknown.send(new ListObjectsV2Command({ Bucket: 'uploads' })))).toEqual({ code: 'InvalidAccessKeyId', status: 403 });
  });

  it('refuses anonymous requests unless the bucket is public-read, and then only reads', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'public.txt', Body: 'public bytes' }));
    expect((await fetch(`${local.endpoint()}/uploads/public.txt`)).status).toBe(403);
    const denied = await (await fetch(`${local.endpoint()}/uploads/public.txt`)).text();
    expect(denied).toContain('<Code>AccessDenied</Code>');
    await s3.send(new PutBucketAclCommand({ Bucket: 'uploads', ACL: 'public-read' }));
    const read = await fetch(`${local.endpoint()}/uploads/public.txt`);
    expect([read.status, await read.text()]).toEqual([200, 'public bytes']);
    expect((await fetch(`${local.endpoint()}/uploads/public.txt`, { method: 'PUT', body: 'x' })).status).toBe(403);
    expect((await fetch(`${local.endpoint()}/uploads/public.txt`, { method: 'DELETE' })).status).toBe(403);
    await s3.send(new PutBucketAclCommand({ Bucket: 'uploads', ACL: 'private' }));
    expect((await fetch(`${local.endpoint()}/uploads/public.txt`)).status).toBe(403);
  });

  it('serves a presigned GET until it expires', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'shared file.txt', Body: 'presigned bytes' }));
    const sha256 = class {
      readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
      constructor(secret?: unknown) { this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', Buffer.from(secret as Uint8Array)); }
      update(data: unknown): void { this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array)); }
      digest(): Promise<Uint8Array> { return Promise.resolve(new Uint8Array(this.hash.digest())); }
    };
    const signer = new SignatureV4({ credentials: testCredentials, region: 'us-east-1', service: 's3', sha256, uriEscapePath: false });
    const url = new URL(local.endpoint());
    const unsent = new Set(['x-amz-content-sha256']);
    const presign = (signingDate: Date) => signer.presign({
      method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/uploads/shared%20file.txt', query: {},
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    }, { expiresIn: 300, signingDate, unhoistableHeaders: unsent, unsignableHeaders: unsent });
    const link = (request: { path: string; query?: Record<string, unknown> }) => `${local.endpoint()}${request.path}?${new URLSearchParams((request.query ?? {}) as Record<string, string>).toString()}`;
    const fresh = await fetch(link(await presign(new Date())));
    expect([fresh.status, await fresh.text()]).toEqual([200, 'presigned bytes']);
    const expired = await fetch(link(await presign(new Date(Date.now() - 301_000))));
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('addresses buckets virtual-host-style under the configured domain', async () => {
    const agent = new Agent({
      lookup: ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
        if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
      }) as never,
    });
    const virtual = local.client({ endpoint: `http://s3.localhost:${new URL(local.endpoint()).port}`, forcePathStyle: false, requestHandler: new NodeHttpHandler({ httpAgent: agent }) });
    await virtual.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'virtual/host.txt', Body: 'virtual' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'virtual/host.txt' }));
    expect(await got.Body!.transformToString()).toBe('virtual');
    const listed = await virtual.send(new ListObjectsV2Command({ Bucket: 'uploads', Prefix: 'virtual/' }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['virtual/host.txt']);
    agent.destroy();
  });
});

describe('boto3', () => {
  it('runs every operation and gets S3 answers and errors', async () => {
    const python = ensureBoto3();
    const result = await runCommand(python, ['test/integration/objectstore/boto3-client.py'], {
      env: { ...process.env, S3_ENDPOINT: local.endpoint('n2'), S3_ACCESS_KEY: testCredentials.accessKeyId, S3_SECRET_KEY: testCredentials.secretAccessKey }, timeoutMs: 180_000,
    });
    expect(result.code, result.stderr).toBe(0);
    const found = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(found).toEqual({
      create_again: ['BucketAlreadyOwnedByYou', 409],
      get: ['hello from boto3', 'text/plain', { who: 'boto' }, true],
      range: 'from',
      head: 16,
      missing_key: ['NoSuchKey', 404],
      missing_bucket: ['NoSuchBucket', 404],
      if_none_match: ['PreconditionFailed', 412],
      if_match_get: ['PreconditionFailed', 412],
      checksums: ['sum/CRC32', 'sum/SHA1', 'sum/SHA256'],
      copy: 'hello from boto3',
      list: [['copy.txt'], ['dir/', 'sum/']],
      paged: ['copy.txt', 'dir/hello.txt', 'sum/CRC32', 'sum/SHA1', 'sum/SHA256'],
      list_v1: ['sum/CRC32', 'sum/SHA1', 'sum/SHA256'],
      multipart: [true, true],
      uploads: ['aborted'],
      parts: [1],
      aborted: ['NoSuchUpload', 404],
      presigned: 'hello from boto3',
      presigned_tampered: 403,
      presigned_v4: 'hello from boto3',
      deleted: ['copy.txt', 'dir/hello.txt'],
      not_empty: ['BucketNotEmpty', 409],
      listed_after_delete: false,
    });
  });
});
