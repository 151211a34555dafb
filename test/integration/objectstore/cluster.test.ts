/**
 * The S3 gateway on a 3-node cluster of real processes (test/support/raft-cluster.ts; each node runs a
 * Raft replica and a gateway over the group), with the real AWS SDK: writes through one node are
 * read and listed at once through the others, concurrent conditional creates through different
 * nodes have exactly one winner, and an object acknowledged before a kill -9 of the leader reads
 * back byte for byte after it, through the survivors and through the restarted node.
 */
import { createHash } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayCluster, type GatewayCluster } from '../../support/objectstore-cluster.js';

const names = ['n1', 'n2', 'n3'];
let gateways: GatewayCluster;
const clients = new Map<string, S3Client>();

function client(name: string): S3Client {
  let found = clients.get(name);
  if (found === undefined) {
    found = gateways.client({}, name);
    clients.set(name, found);
  }
  return found;
}

beforeAll(async () => {
  gateways = await startGatewayCluster({ names });
  await client('n1').send(new CreateBucketCommand({ Bucket: 'cluster' }));
});

afterAll(async () => {
  await gateways?.stop();
});

function pattern(bytes: number, seed: number): Buffer {
  const buffer = Buffer.alloc(bytes + 4);
  for (let index = 0; index < bytes; index += 4) buffer.writeUInt32LE(((index + seed) * 2654435761) >>> 0, index);
  return buffer.subarray(0, bytes);
}

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('an S3 gateway on every node of a 3-process cluster', () => {
  it('lists and reads a write made through another node at once (read-after-write, list-after-write)', async () => {
    for (let round = 0; round < 5; round += 1) {
      const [writer, reader] = [names[round % 3]!, names[(round + 1) % 3]!];
      const key = `raw/${round}`;
      await client(writer).send(new PutObjectCommand({ Bucket: 'cluster', Key: key, Body: `round ${round}` }));
      const listed = await client(reader).send(new ListObjectsV2Command({ Bucket: 'cluster', Prefix: 'raw/' }));
      expect(listed.Contents?.map((object) => object.Key)).toContain(key);
      expect(await (await client(reader).send(new GetObjectCommand({ Bucket: 'cluster', Key: key }))).Body!.transformToString()).toBe(`round ${round}`);
    }
  });

  it('gives concurrent If-None-Match: * PUTs through three nodes exactly one winner', async () => {
    const attempts = await Promise.allSettled(Array.from({ length: 9 }, (_, index) => client(names[index % 3]!).send(new PutObjectCommand({ Bucket: 'cluster', Key: 'claimed', Body: `writer ${index}`, IfNoneMatch: '*' }))));
    const winners = attempts.flatMap((attempt, index) => (attempt.status === 'fulfilled' ? [index] : []));
    expect(winners).toHaveLength(1);
    for (const attempt of attempts) if (attempt.status === 'rejected') expect((attempt.reason as S3ServiceException).name).toBe('PreconditionFailed');
    for (const name of names) expect(await (await client(name).send(new GetObjectCommand({ Bucket: 'cluster', Key: 'claimed' }))).Body!.transformToString()).toBe(`writer ${winners[0]}`);
  });

  it('reads an object acknowledged before a kill -9 of the leader back byte for byte after it', async () => {
    const cluster = gateways.cluster;
    const leader = await cluster.leader();
    const survivors = names.filter((name) => name !== leader);
    const small = pattern(1024 * 1024 + 17, 7);
    const large = pattern(11 * 1024 * 1024 + 5, 8);
    await client(leader).send(new PutObjectCommand({ Bucket: 'cluster', Key: 'before-kill/small', Body: small }));
    await new Upload({ client: client(survivors[0]!), params: { Bucket: 'cluster', Key: 'before-kill/large', Body: large }, partSize: 5 * 1024 * 1024, queueSize: 2 }).done();
    await cluster.kill(leader);
    const read = async (name: string, key: string): Promise<string> => sha(await (await client(name).send(new GetObjectCommand({ Bucket: 'cluster', Key: key }))).Body!.transformToByteArray());
    // The survivors elect a new leader; the first reads may wait for it (the gateway's KV client retries).
    const newLeader = await cluster.leader(survivors, 60_000);
    expect(newLeader).not.toBe(leader);
    for (const name of survivors) {
      expect(await read(name, 'before-kill/small')).toBe(sha(small));
      expect(await read(name, 'before-kill/large')).toBe(sha(large));
    }
    await client(survivors[1]!).send(new PutObjectCommand({ Bucket: 'cluster', Key: 'after-kill', Body: 'written with one node down' }));
    await cluster.restart(leader);
    clients.get(leader)?.destroy();
    clients.delete(leader);
    await gateways.ready(leader);
    expect(await read(leader, 'before-kill/small')).toBe(sha(small));
    expect(await read(leader, 'before-kill/large')).toBe(sha(large));
    const listed = await client(leader).send(new ListObjectsV2Command({ Bucket: 'cluster' }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(expect.arrayContaining(['after-kill', 'before-kill/large', 'before-kill/small', 'claimed']));
  });
});
