/**
 * Shared pieces of the pipeline integration tests: a seeded corpus with known documents, deliberate
 * duplicates and bad input; producing it; waiting (with a deadline) until a group has consumed the
 * whole log while checking that its stored offsets never move back.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createRng } from '../../../runtime/index.js';
import { createTopicsReady } from '../../services/kafka.js';
import { hashingEmbedder, PipelineStore, type Embedder } from '../../../actors/pipeline/index.js';
import { waitFor } from '../../support/wait.js';

/** Documents whose retrieval the tests check by query. */
export const knownDocuments = [
  { id: 'known-raft', body: 'Raft elects a leader by randomized election timeouts; a candidate that wins a majority of votes becomes leader for its term.', query: 'how does raft elect a leader with votes' },
  { id: 'known-kafka', body: 'A Kafka consumer group rebalances partitions among its members when a consumer joins or leaves the group.', query: 'kafka consumer group rebalance partitions' },
  { id: 'known-bread', body: 'Sourdough bread needs an active starter, a long fermentation and a very hot oven to bake a crisp crust.', query: 'baking sourdough bread with a starter' },
  { id: 'known-vector', body: 'An HNSW index answers approximate nearest neighbour queries over embedding vectors with cosine distance.', query: 'approximate nearest neighbour search hnsw embeddings' },
] as const;

const vocabulary = ('actor mailbox supervisor restart crash message queue offset partition broker replica leader follower term vote '
  + 'log snapshot checkpoint durable fsync batch stream window latency throughput cache shard tenant quota token schema index vector '
  + 'embedding cosine chunk overlap digest replay retry backoff jitter deadline timeout heartbeat member group coordinator commit').split(' ');

/** The messages of a corpus, in produce order, and what a correct ingestion must end with. */
export interface Corpus {
  readonly messages: ReadonlyArray<{ key: string | null; value: string | Buffer | null }>;
  /** Distinct (id, version) documents. */
  readonly uniqueDocuments: number;
  /** The expected dead-letter reason of each bad message, by message key. */
  readonly badByKey: Readonly<Record<string, string>>;
}

/** Size limit the tests configure, so that "oversized" stays small. */
export const messageBytesMax = 8 * 1024;

/** A seeded corpus: `count` generated documents plus the known ones, ~20% sent twice, and bad input. */
export function makeCorpus(count: number, seed = 7): Corpus {
  const rng = createRng(seed);
  const documents: Array<{ key: string; value: string }> = [];
  for (let index = 0; index < count; index += 1) {
    const words = Array.from({ length: 40 + rng.int(0, 160) }, () => vocabulary[rng.int(0, vocabulary.length - 1)]!);
    const id = `doc-${index}`;
    documents.push({ key: id, value: JSON.stringify({ id, title: `Document ${index}`, body: words.join(' '), metadata: { shard: index % 4, kind: 'generated' } }) });
  }
  for (const known of knownDocuments) documents.push({ key: known.id, value: JSON.stringify({ id: known.id, body: known.body, metadata: { kind: 'known' } }) });
  // A second version of one document: a new row, and the current version for search.
  documents.push({ key: 'doc-0', value: JSON.stringify({ id: 'doc-0', version: 2, body: 'the second version of document zero', metadata: { kind: 'generated' } }) });
  const messages: Array<{ key: string | null; value: string | Buffer | null }> = [];
  for (const document of documents) {
    messages.push(document);
    if (rng.next() < 0.2) messages.push(document); // a duplicate, as a producer retry would make
  }
  const bad: Array<[string, { key: string | null; value: string | Buffer | null }]> = [
    ['NOT_JSON', { key: 'bad-1', value: '{"id": "broken", "body": ' }],
    ['SCHEMA', { key: 'bad-2', value: JSON.stringify({ id: 42, body: 'id is a number' }) }],
    ['SCHEMA', { key: 'bad-3', value: JSON.stringify({ id: 'bad-3', body: 'extra field', colour: 'red' }) }],
    ['OVERSIZED', { key: 'bad-4', value: JSON.stringify({ id: 'bad-4', body: 'x '.repeat(messageBytesMax) }) }],
    ['EMPTY', { key: 'bad-5', value: null }],
    ['EMPTY', { key: 'bad-6', value: JSON.stringify({ id: 'bad-6', body: '   ' }) }],
    ['NOT_UTF8', { key: 'bad-7', value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }],
  ];
  // Spread the bad messages through the log.
  bad.forEach(([, message], index) => messages.splice(Math.floor(((index + 1) * messages.length) / (bad.length + 1)), 0, message));
  const badByKey: Record<string, string> = {};
  for (const [reason, message] of bad) badByKey[message.key!] = reason;
  return { messages, uniqueDocuments: documents.length, badByKey };
}

/** Creates `topic` with `partitions` and produces the corpus (keyed, so a document's copies share a partition). */
export async function produceCorpus(brokers: string, topic: string, corpus: Corpus, partitions = 4): Promise<Record<number, number>> {
  const kafka = new Kafka({ clientId: 'pipeline-test-producer', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  try {
    await createTopicsReady(brokers, [{ topic, numPartitions: partitions }, { topic: `${topic}.dlq`, numPartitions: 1 }]);
    for (let start = 0; start < corpus.messages.length; start += 50) {
      await producer.send({ topic, messages: corpus.messages.slice(start, start + 50).map((message) => ({ key: message.key, value: message.value })) });
    }
    return await endOffsets(admin, topic);
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

async function endOffsets(admin: ReturnType<Kafka['admin']>, topic: string): Promise<Record<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return Object.fromEntries(offsets.map((offset) => [offset.partition, Number(offset.high)]));
}

/** The embedder every test uses (small, so tests stay fast). */
export function testEmbedder(): Embedder {
  return hashingEmbedder({ dimensions: 256 });
}

/**
 * A fresh, migrated store in its own schema. Over PGlite use one connection: its socket multiplexer
 * interleaves the extended-protocol messages of concurrent connections (they share one backend and so
 * one unnamed prepared statement).
 */
export async function freshStore(url: string, name: string, options: { connectionsMax?: number; embedder?: Embedder } = {}): Promise<PipelineStore> {
  const embedder = options.embedder ?? testEmbedder();
  const store = new PipelineStore({
    url, schema: `${name}_${process.pid}_${Date.now().toString(36)}`.toLowerCase(), model: embedder.model, dimensions: embedder.dimensions, connectionsMax: options.connectionsMax ?? 4,
  });
  await store.dropSchema();
  await store.migrate();
  return store;
}

/**
 * Waits until `group` has consumed every partition to `end`, failing after `timeoutMs`. Every sample
 * of the stored offsets is checked against the previous one: an offset that moved back fails at once.
 */
export async function waitForOffsets(store: PipelineStore, group: string, end: Record<number, number>, timeoutMs = 90_000, onSample?: () => Promise<void>): Promise<void> {
  const seen = new Map<number, number>();
  const reached = (): boolean => Object.entries(end).every(([partition, offset]) => (seen.get(Number(partition)) ?? 0) >= offset);
  try {
    await waitFor(async () => {
      for (const row of await store.offsets(group)) {
        const previous = seen.get(row.partition) ?? 0;
        if (row.nextOffset < previous) throw new OffsetMovedBack(`offset of partition ${row.partition} moved back from ${previous} to ${row.nextOffset}`);
        seen.set(row.partition, row.nextOffset);
      }
      if (reached()) return true;
      await onSample?.();
      return false;
    }, { timeoutMs, intervalMs: 100, what: `group ${group} to reach ${JSON.stringify(end)}` });
  } catch (error) {
    if (error instanceof OffsetMovedBack) throw error;
    throw new Error(`${(error as Error).message} (at ${JSON.stringify(Object.fromEntries(seen))})`);
  }
}

/** An offset read lower than an earlier sample: the one thing offsets must never do. */
class OffsetMovedBack extends Error {}

/** Reads the whole dead-letter topic. */
export async function readDeadLetterTopic(brokers: string, topic: string, expected: number): Promise<Array<{ key: string; reason: string; valueBytes: number; truncated?: string }>> {
  const kafka = new Kafka({ clientId: 'pipeline-test-dlq', brokers: [brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `dlq-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  const received: Array<{ key: string; reason: string; valueBytes: number; truncated?: string }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const truncated = message.headers?.truncated?.toString();
        received.push({ key: message.key?.toString() ?? '', reason: message.headers?.reason?.toString() ?? '', valueBytes: message.value?.byteLength ?? 0, ...(truncated === undefined ? {} : { truncated }) });
      },
    });
    await waitFor(() => received.length >= expected, { timeoutMs: 30_000, intervalMs: 100, what: `${expected} messages on ${topic} (got ${received.length} so far)` });
    return received;
  } finally {
    await consumer.disconnect();
  }
}
