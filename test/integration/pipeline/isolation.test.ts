/**
 * One partition's trouble never holds up another's, against the real broker and Postgres:
 *   - a message at the broker's own size limit on partition 0 (the broker took it, but its dead letter,
 *     a longer key and five headers more, cannot fit the dead-letter topic) is dead-lettered, published
 *     truncated, and partitions 1-3 ingest everything, before and after it;
 *   - a worker that is stuck inside its transaction on partition 0 holds up no other partition, and its
 *     partition catches up once it is released;
 *   - an embedder outage makes the worker back off (RETRY replies, a lane in `retrying`) instead of
 *     crash-looping into its supervisor: no worker restarts, and the result equals a clean run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { TreeSnapshot } from '../../../runtime/index.js';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { defaultChunking, defaultDocumentLimits, deadLetterTruncatedValueBytes, PipelineError, startIngestion, type Embedder, type Ingestion, type PipelineStore } from '../../../actors/pipeline/index.js';
import { requiredServices } from '../../services/index.js';
import { createTopicsReady } from '../../services/kafka.js';
import { waitFor } from '../../support/wait.js';
import { freshStore, messageBytesMax, readDeadLetterTopic, testEmbedder, waitForOffsets } from './support.js';

const addresses = requiredServices();
const brokers = addresses.kafkaBrokers;
const limits = { ...defaultDocumentLimits, messageBytesMax };
const chunking = { ...defaultChunking, sizeChars: 300, overlapChars: 60 };
const consumer = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200, maxBytesPerPartition: 16 * 1024 };
const partitions = 4;

function documentMessage(id: string): { key: string; value: string } {
  return { key: id, value: JSON.stringify({ id, body: `body of ${id}: ${'word '.repeat(20 + (id.length % 30))}`, metadata: { kind: 'isolation' } }) };
}

/** Produces `count` documents to each of `targets`, explicitly partitioned. */
async function produceTo(producer: Producer, topic: string, targets: readonly number[], count: number, tag: string): Promise<void> {
  for (const partition of targets) {
    const messages = Array.from({ length: count }, (_, index) => ({ ...documentMessage(`${tag}-p${partition}-${index}`), partition }));
    await producer.send({ topic, messages });
  }
}

async function endOffsets(kafka: Kafka, topic: string): Promise<Record<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((offset) => [offset.partition, Number(offset.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Produces the largest value the broker accepts (a message at its limit) to `partition`; returns its size. */
async function produceAtLimit(producer: Producer, topic: string, partition: number): Promise<number> {
  const limitBytes = 1024 * 1024 + 12; // The broker's default message.max.bytes (the test broker keeps it).
  for (let valueBytes = limitBytes; valueBytes > limitBytes - 4096; valueBytes -= 16) {
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: 'at-limit', value: Buffer.alloc(valueBytes, 0x61), partition }] });
      return valueBytes;
    } catch (error) {
      if ((error as { type?: string }).type !== 'MESSAGE_TOO_LARGE') throw error;
    }
  }
  throw new Error('the broker refused every message near its limit');
}

function workerRestarts(node: TroupeNode, id: string): number {
  let restarts = 0;
  const visit = (snapshot: TreeSnapshot): void => {
    if (snapshot.path.includes(`/${id}/partitions/partition-`)) restarts += snapshot.restarts;
    snapshot.children.forEach(visit);
  };
  visit(node.tree());
  return restarts;
}

describe('pipeline partition isolation', () => {
  const kafka = new Kafka({ clientId: 'pipeline-isolation-test', brokers: [brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  let node: TroupeNode;
  const stores: PipelineStore[] = [];
  const running: Ingestion[] = [];

  beforeAll(async () => {
    await producer.connect();
    node = await createNode({ name: 'pipeline-isolation-test' });
  });

  afterAll(async () => {
    for (const ingestion of running) await ingestion.stop().catch(() => undefined);
    await node?.stop();
    await producer.disconnect();
    for (const store of stores) {
      await store.dropSchema();
      await store.close();
    }
  });

  it('a message at the broker limit on partition 0 is dead-lettered (truncated in the DLQ topic) while partitions 1-3 keep ingesting', async () => {
    const topic = `iso-limit-${Date.now().toString(36)}`;
    // Only the source topic exists: the ingestion creates `<topic>.dlq` with the source's settings.
    await createTopicsReady(brokers, [{ topic, numPartitions: partitions }]);
    await produceTo(producer, topic, [0, 1, 2, 3], 20, 'before');
    const valueBytes = await produceAtLimit(producer, topic, 0);
    await produceTo(producer, topic, [0, 1, 2, 3], 20, 'after');
    const store = await freshStore(addresses.databaseUrl, 'iso_limit');
    stores.push(store);
    const group = `${topic}-group`;
    const ingestion = await startIngestion(node, { id: 'ingest-limit', brokers: [brokers], topic, groupId: group, store, embedder: testEmbedder(), chunking, limits, consumer });
    running.push(ingestion);
    await waitForOffsets(store, group, await endOffsets(kafka, topic));
    expect((await store.counts()).documents).toBe(160);
    const deadLetters = await store.deadLetters();
    expect(deadLetters.map(({ partition, key, reason }) => ({ partition, key, reason }))).toEqual([{ partition: 0, key: 'at-limit', reason: 'OVERSIZED' }]);
    await waitFor(async () => (await store.deadLetters())[0]?.published === true, { timeoutMs: 60_000, intervalMs: 100, what: 'the dead letter to be published' });
    const [published] = await readDeadLetterTopic(brokers, `${topic}.dlq`, 1);
    expect(published).toMatchObject({ key: `${topic}/0/20`, reason: 'OVERSIZED', truncated: String(valueBytes), valueBytes: deadLetterTruncatedValueBytes });
    expect(workerRestarts(node, 'ingest-limit')).toBe(0);
  }, 180_000);

  it('a worker stuck in its transaction on partition 0 holds up no other partition, and catches up once released', async () => {
    const topic = `iso-stuck-${Date.now().toString(36)}`;
    await createTopicsReady(brokers, [{ topic, numPartitions: partitions }]);
    await produceTo(producer, topic, [0, 1, 2, 3], 30, 'doc');
    const store = await freshStore(addresses.databaseUrl, 'iso_stuck');
    stores.push(store);
    const group = `${topic}-group`;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let stuck = false;
    const ingestion = await startIngestion(node, {
      id: 'ingest-stuck', brokers: [brokers], topic, groupId: group, store, embedder: testEmbedder(), chunking, limits, consumer, deadLetterTopic: false,
      hooks: { beforeCommit: async (plan) => { if (plan.partition === 0) { stuck = true; await gate; } } },
    });
    running.push(ingestion);
    try {
      const end = await endOffsets(kafka, topic);
      await waitFor(() => stuck, { timeoutMs: 60_000, intervalMs: 50, what: 'partition 0 to be inside its first transaction' });
      const others = Object.fromEntries(Object.entries(end).filter(([partition]) => partition !== '0'));
      await waitForOffsets(store, group, others);
      // Partition 0 is still inside its first transaction: nothing of it is committed yet.
      expect((await store.offsets(group)).find((row) => row.partition === 0)?.nextOffset ?? 0).toBe(0);
      const status = await ingestion.status();
      expect(status.partitions.find((lane) => lane.partition === 0)).toMatchObject({ phase: 'ready', nextOffset: 0 });
      // Later messages on the other partitions flow too, wholly while partition 0 waits.
      await produceTo(producer, topic, [1, 2, 3], 10, 'late');
      const later = await endOffsets(kafka, topic);
      await waitForOffsets(store, group, Object.fromEntries(Object.entries(later).filter(([partition]) => partition !== '0')));
      expect((await store.offsets(group)).find((row) => row.partition === 0)?.nextOffset ?? 0).toBe(0);
      release();
      await waitForOffsets(store, group, later);
    } finally {
      release();
    }
    expect((await store.counts()).documents).toBe(150);
  }, 180_000);

  it('an embedder outage backs off (a retrying lane, no worker restart) and then ingests everything once', async () => {
    const topic = `iso-outage-${Date.now().toString(36)}`;
    await createTopicsReady(brokers, [{ topic, numPartitions: partitions }]);
    await produceTo(producer, topic, [0, 1, 2, 3], 15, 'doc');
    const store = await freshStore(addresses.databaseUrl, 'iso_outage');
    stores.push(store);
    const group = `${topic}-group`;
    const inner = testEmbedder();
    // The embedder is down until the test has seen a lane back off because of it.
    let down = true;
    let failures = 0;
    const flaky: Embedder = {
      model: inner.model, dimensions: inner.dimensions,
      async embed(texts) {
        if (down) {
          failures += 1;
          throw new PipelineError('EMBED_FAILED', 'embedding service unavailable (injected)');
        }
        return inner.embed(texts);
      },
    };
    const ingestion = await startIngestion(node, { id: 'ingest-outage', brokers: [brokers], topic, groupId: group, store, embedder: flaky, chunking, limits, consumer, deadLetterTopic: false });
    running.push(ingestion);
    await waitFor(async () => (await ingestion.status()).partitions.some((lane) => lane.phase === 'retrying' && (lane.lastError ?? '').includes('EMBED_FAILED') && lane.attempts >= 2),
      { timeoutMs: 60_000, intervalMs: 50, what: 'a lane backing off after repeated embedder failures' });
    expect((await store.offsets(group)).every((row) => row.nextOffset === 0)).toBe(true);
    down = false;
    await waitForOffsets(store, group, await endOffsets(kafka, topic));
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(workerRestarts(node, 'ingest-outage')).toBe(0);
    expect((await store.counts()).documents).toBe(60);
  }, 180_000);
});
