/**
 * `troupe s3 ...`: a small S3 command line for people without an AWS CLI, and the access-key
 * commands of the gateway.
 *
 *   s3 mb s3://bucket                      create a bucket
 *   s3 ls [s3://bucket[/prefix]]           list buckets, or a bucket's keys (with sizes)
 *   s3 cp <file|-> s3://bucket/key         upload (streamed, multipart above 16 MiB)
 *   s3 cp s3://bucket/key <file|->         download
 *   s3 rm s3://bucket/key                  delete an object
 *   s3 rb s3://bucket                      delete an (empty) bucket
 *   s3 keys create|list|delete <id>        access keys kept in the replicated KV
 *
 * Object commands talk S3 (signed with SigV4 by the AWS SDK) to `endpoint`; key commands reach the KV
 * through `kv`.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { createAccessKey, deleteAccessKey, listAccessKeys, type S3Credentials } from './access-keys.js';
import type { ObjectKv } from './kv.js';

/** What the CLI needs. */
export interface S3CliOptions {
  readonly endpoint: string;
  readonly credentials?: S3Credentials;
  /** The KV, for `keys` (opened on demand). */
  readonly kv?: () => Promise<ObjectKv>;
  readonly write: (line: string) => void;
  /** Where `cp ... -` reads from and writes to. */
  readonly stdin?: Readable;
  readonly stdout?: NodeJS.WritableStream;
  readonly nowMs?: () => number;
}

export const s3Usage = 's3 mb s3://bucket | ls [s3://bucket[/prefix]] | cp <file|-> s3://bucket/key | cp s3://bucket/key <file|-> | rm s3://bucket/key | rb s3://bucket | keys create|list|delete <id>   [--endpoint http://127.0.0.1:9000]';

/** Parses `s3://bucket/key`. */
export function parseS3Url(text: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(text);
  return match === null ? undefined : { bucket: match[1]!, key: match[2]! };
}

/** Runs one command; returns its exit code (2: usage). */
export async function runS3Cli(words: readonly string[], options: S3CliOptions): Promise<number> {
  const [action, first, second] = words;
  if (action === 'keys') return keysCommand(first, second, options);
  if (options.credentials === undefined) {
    options.write('set TROUPE_S3_ACCESS_KEY and TROUPE_S3_SECRET_KEY (npm start prints a pair; troupe s3 keys create makes one)');
    return 2;
  }
  // The SDK loads only for these commands (nodes that import this component never pay for it).
  const { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, S3Client: Client } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const client: S3Client = new Client({ endpoint: options.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: options.credentials });
  try {
    switch (action) {
      case 'mb':
      case 'rb': {
        const target = first === undefined ? undefined : parseS3Url(first);
        if (target === undefined || target.key !== '') break;
        await client.send(action === 'mb' ? new CreateBucketCommand({ Bucket: target.bucket }) : new DeleteBucketCommand({ Bucket: target.bucket }));
        options.write(`${action === 'mb' ? 'make_bucket' : 'remove_bucket'}: ${target.bucket}`);
        return 0;
      }
      case 'ls': {
        if (first === undefined) {
          const listed = await client.send(new ListBucketsCommand({}));
          for (const bucket of listed.Buckets ?? []) options.write(`${bucket.CreationDate?.toISOString() ?? ''}  ${bucket.Name}`);
          return 0;
        }
        const target = parseS3Url(first);
        if (target === undefined) break;
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: target.key, Delimiter: '/', ContinuationToken: token }));
          for (const prefix of page.CommonPrefixes ?? []) options.write(`${'PRE'.padStart(30)} ${prefix.Prefix}`);
          for (const object of page.Contents ?? []) options.write(`${object.LastModified?.toISOString() ?? ''} ${String(object.Size ?? 0).padStart(10)} ${object.Key}`);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        return 0;
      }
      case 'cp': {
        if (first === undefined || second === undefined) break;
        const from = parseS3Url(first);
        const to = parseS3Url(second);
        if (from === undefined && to !== undefined && to.key !== '') {
          const body = first === '-' ? options.stdin ?? process.stdin : createReadStream(first);
          const done = await new Upload({ client, params: { Bucket: to.bucket, Key: to.key, Body: body }, partSize: 16 * 1024 * 1024, queueSize: 2 }).done();
          options.write(`upload: ${first} to ${second} (ETag ${done.ETag ?? ''})`);
          return 0;
        }
        if (from !== undefined && to === undefined && from.key !== '') {
          const got = await client.send(new GetObjectCommand({ Bucket: from.bucket, Key: from.key }));
          await pipeline(got.Body as Readable, second === '-' ? options.stdout ?? process.stdout : createWriteStream(second));
          if (second !== '-') options.write(`download: ${first} to ${second}`);
          return 0;
        }
        break;
      }
      case 'rm': {
        const target = first === undefined ? undefined : parseS3Url(first);
        if (target === undefined || target.key === '') break;
        await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: target.key }));
        options.write(`delete: ${first}`);
        return 0;
      }
      default:
        break;
    }
    options.write(`usage: troupe ${s3Usage}`);
    return 2;
  } catch (error) {
    options.write(`${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  } finally {
    client.destroy();
  }
}

/** A new access key id (20 characters, as AWS's) and secret (40). */
export function generateCredentials(): S3Credentials {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(16)].map((byte) => alphabet[byte % 32]).join('');
  return { accessKeyId: `TRP${id}`.slice(0, 20), secretAccessKey: randomBytes(30).toString('base64').replace(/[+/]/g, 'x') };
}

async function keysCommand(action: string | undefined, id: string | undefined, options: S3CliOptions): Promise<number> {
  if (options.kv === undefined || (action !== 'create' && action !== 'list' && action !== 'delete') || (action === 'delete' && id === undefined)) {
    options.write(`usage: troupe ${s3Usage}`);
    return 2;
  }
  const kv = await options.kv();
  if (action === 'create') {
    const credentials = generateCredentials();
    await createAccessKey(kv, { ...credentials, createdMs: options.nowMs?.() ?? Date.now() });
    options.write(JSON.stringify(credentials));
    return 0;
  }
  if (action === 'list') {
    for (const key of await listAccessKeys(kv)) options.write(JSON.stringify(key));
    return 0;
  }
  const existed = await deleteAccessKey(kv, id!);
  options.write(JSON.stringify({ accessKeyId: id, deleted: existed }));
  return existed ? 0 : 1;
}
