/**
 * Streaming, not buffering: a 64 MiB object goes through the gateway (PUT from a generated stream,
 * GET hashed as it arrives) while the gateway holds at most `chunkBytes * (chunksInFlightMax + 1)` body
 * bytes per request (5 MiB with the defaults), counted where the buffers are allocated and
 * released (ObjectStore.held). The KV below it holds what Raft keeps; this bounds the gateway's part.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeLimits } from '../../../actors/objectstore/index.js';
import { startLocalGateway, type LocalGateway } from '../../support/objectstore-local.js';

let local: LocalGateway;
let s3: S3Client;
const objectBytes = 64 * 1024 * 1024;
const pieceBytes = 64 * 1024;

beforeAll(async () => {
  local = await startLocalGateway();
  s3 = local.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'streams' }));
});

afterAll(async () => {
  await local?.stop();
});

/** A body generated piece by piece (never whole in memory), and its SHA-256 once read. */
function generated(): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let offset = 0;
  const stream = new Readable({
    read() {
      if (offset >= objectBytes) {
        this.push(null);
        return;
      }
      const piece = Buffer.alloc(pieceBytes, offset / pieceBytes & 0xff);
      piece.writeUInt32LE(offset, 0);
      offset += pieceBytes;
      hash.update(piece);
      this.push(piece);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

describe('streaming through the gateway', () => {
  it('puts and gets a 64 MiB object with the gateway holding at most a few chunks of it', async () => {
    const bound = storeLimits.chunkBytes * (storeLimits.chunksInFlightMax + 1);
    const body = generated();
    await s3.send(new PutObjectCommand({ Bucket: 'streams', Key: 'large', Body: body.stream, ContentLength: objectBytes }));
    const sent = body.digest();
    expect(local.gateway.store.held.max).toBeLessThanOrEqual(bound);
    local.gateway.store.held.max = 0;
    const got = await s3.send(new GetObjectCommand({ Bucket: 'streams', Key: 'large' }));
    const hash = createHash('sha256');
    let received = 0;
    for await (const piece of got.Body as Readable) {
      hash.update(piece as Buffer);
      received += (piece as Buffer).length;
    }
    expect(received).toBe(objectBytes);
    expect(hash.digest('hex')).toBe(sent);
    expect(local.gateway.store.held.max).toBeGreaterThan(0);
    expect(local.gateway.store.held.max).toBeLessThanOrEqual(bound);
    expect(local.gateway.store.held.now).toBe(0);
  });
});
