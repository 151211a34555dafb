/**
 * Ingestion against the real broker and Postgres (the real server when it runs, else PGlite):
 * a clean run sets the reference digest; duplicates in the log have no second effect; a worker that
 * crashes mid-batch (inside the transaction) is restarted by its supervisor and nothing is lost or
 * doubled; bad input is dead-lettered with its reason to Postgres and the dead-letter topic; replay
 * from offset 0 changes nothing in place and rebuilds an empty schema to the same digest; retrieval
 * finds the known documents, and recall@10 against exact search is reported; the consumer actor
 * refuses unknown messages without changing its state (the one behaviour test/unit/lint/unknown-
 * messages.test.ts cannot start without a broker).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TreeSnapshot } from '../../../runtime/index.js';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import {
  createSearch, defaultChunking, defaultDocumentLimits, recallAtK, replay, searchActor, startIngestion,
  type PipelineStore, type SearchReply,
} from '../../../actors/pipeline/index.js';
import { requiredServices } from '../../services/index.js';
import { waitFor } from '../../support/wait.js';
import { freshStore, knownDocuments, makeCorpus, messageBytesMax, produceCorpus, readDeadLetterTopic, testEmbedder, waitForOffsets, type Corpus } from './support.js';

const addresses = requiredServices();
// Both Postgres paths: the real server with a pool, and PGlite with one connection (see support.ts).
const databases = [
  { name: 'postgres', url: addresses.databaseUrl, connectionsMax: 4 },
  { name: 'pglite', url: addresses.pgliteUrl, connectionsMax: 1 },
];
const brokers = addresses.kafkaBrokers;
const limits = { ...defaultDocumentLimits, messageBytesMax };
const chunking = { ...defaultChunking, sizeChars: 300, overlapChars: 60 };
const consumer = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200, maxBytesPerPartition: 16 * 1024 };

describe.each(databases)('pipeline ingestion on $name', ({ name, url: databaseUrl, connectionsMax }) => {
  const topic = `docs-${name}-${Date.now().toString(36)}`;
  const corpus: Corpus = makeCorpus(240);
  let end: Record<number, number>;
  let node: TroupeNode;
  let clean: PipelineStore;
  let cleanDigest: string;
  const stores: PipelineStore[] = [];

  async function ingest(store: PipelineStore, group: string, hooks?: Parameters<typeof startIngestion>[1]['hooks']): Promise<void> {
    const running = await startIngestion(node, {
      id: `ingest-${group}`, brokers: [brokers], topic, groupId: group, store, embedder: testEmbedder(), chunking, limits, consumer,
      ...(hooks === undefined ? {} : { hooks }),
    });
    try {
      await waitForOffsets(store, group, end);
    } finally {
      await running.stop();
    }
  }

  beforeAll(async () => {
    end = await produceCorpus(brokers, topic, corpus);
    node = await createNode({ name: 'pipeline-test' });
    clean = await freshStore(databaseUrl, 'clean', { connectionsMax });
    stores.push(clean);
    await ingest(clean, `${topic}-clean`);
    cleanDigest = await clean.digest();
  });

  afterAll(async () => {
    await node?.stop();
    for (const store of stores) {
      await store.dropSchema();
      await store.close();
    }
  });

  it('a clean run stores each unique document once and dead-letters every bad message with its reason', async () => {
    const counts = await clean.counts();
    expect(counts.documents).toBe(corpus.uniqueDocuments);
    const deadLetters = await clean.deadLetters();
    // By key: a producer retry may have written a bad message twice, and each log entry is dead-lettered.
    const byKey: Record<string, string> = {};
    for (const deadLetter of deadLetters) byKey[deadLetter.key ?? ''] = deadLetter.reason;
    expect(byKey).toEqual(corpus.badByKey);
    expect(deadLetters.every((deadLetter) => deadLetter.published && deadLetter.detail.length > 0)).toBe(true);
    const published = await readDeadLetterTopic(brokers, `${topic}.dlq`, deadLetters.length);
    expect(published.map((message) => message.reason).sort()).toEqual(deadLetters.map((deadLetter) => deadLetter.reason).sort());
    // Nothing else was affected: every partition reached the end of the log.
    expect((await clean.offsets(`${topic}-clean`)).map((row) => row.nextOffset)).toEqual(Object.values(end));
  });

  it('a worker crashing mid-batch (inside its transaction) is restarted alone, and the result equals the clean run', async () => {
    const store = await freshStore(databaseUrl, 'crash', { connectionsMax });
    stores.push(store);
    let commits = 0;
    let crashes = 0;
    await ingest(store, `${topic}-crash`, {
      beforeCommit: () => {
        commits += 1;
        if (commits % 4 === 2) {
          crashes += 1;
          throw new Error('injected crash between the row writes and COMMIT');
        }
      },
    });
    expect(crashes).toBeGreaterThan(0);
    expect((await store.counts()).documents).toBe(corpus.uniqueDocuments);
    expect(await store.digest()).toBe(cleanDigest);
  });

  it('replay from offset 0 changes nothing in place, keeps the live offsets, and rebuilds an empty schema to the same digest', async () => {
    const offsetsBefore = await clean.offsets(`${topic}-clean`);
    const result = await replay({ node, brokers: [brokers], topic, groupId: `${topic}-clean`, from: 0, store: clean, embedder: testEmbedder(), chunking, limits, consumer });
    expect(result.endOffsets).toEqual(end);
    expect(await clean.offsets(`${topic}-clean`)).toEqual(offsetsBefore);
    expect((await clean.counts()).documents).toBe(corpus.uniqueDocuments);
    expect(await clean.digest()).toBe(cleanDigest);
    const rebuilt = await freshStore(databaseUrl, 'rebuilt', { connectionsMax });
    stores.push(rebuilt);
    await replay({ node, brokers: [brokers], topic, groupId: 'rebuild', from: 0, store: rebuilt, embedder: testEmbedder(), chunking, limits, consumer });
    expect(await rebuilt.digest()).toBe(cleanDigest);
    // The replay's temporary offsets are gone.
    expect(await rebuilt.offsets('rebuild')).toEqual([]);
  });

  it('retrieval returns the known documents for their queries, honours filters, and reports recall@10', async () => {
    const search = createSearch(clean, testEmbedder());
    for (const known of knownDocuments) {
      const hits = await search.search(known.query, { k: 3 });
      expect(hits[0]?.sourceId).toBe(known.id);
    }
    const filtered = await search.search('leader election votes', { k: 5, filter: { metadata: { kind: 'generated' } } });
    expect(filtered.every((hit) => hit.metadata.kind === 'generated')).toBe(true);
    const onlyBread = await search.search('leader election votes', { k: 5, filter: { sourceIds: ['known-bread'] } });
    expect(onlyBread.map((hit) => hit.sourceId)).toEqual(['known-bread']);
    // Only the current version of a document is searched.
    const versions = await search.search('second version of document zero', { k: 5, filter: { sourceIds: ['doc-0'] } });
    expect(versions.map((hit) => hit.version)).toEqual([2]);
    const queries = ['actor mailbox supervisor', 'raft leader term vote', 'kafka offset partition commit', 'vector embedding cosine index', 'retry backoff jitter deadline'];
    let recall = 0;
    for (const query of queries) recall += recallAtK(await search.search(query, { k: 10 }), await search.searchExact(query, { k: 10 }));
    console.log(`[pipeline] recall@10 (HNSW, ef_search 40) vs exact search: ${(recall / queries.length).toFixed(3)} over ${queries.length} queries`);
    expect(recall / queries.length).toBeGreaterThan(0.5);
  });

  it('the search actor answers asks, and answers a bad query with a typed error without crashing', async () => {
    const ref = await node.startChild({ id: 'search', kind: 'worker', restart: 'permanent', shutdownMs: 5000, start: searchActor(clean, testEmbedder()) });
    const good = await node.system.ask<SearchReply>(ref, { type: 'pipeline.search', query: knownDocuments[0].query, k: 2 }, { timeoutMs: 10_000 });
    expect(good.ok && good.hits[0]?.sourceId).toBe(knownDocuments[0].id);
    const bad = await node.system.ask<SearchReply>(ref, { type: 'pipeline.search', query: 'x', k: 0 }, { timeoutMs: 10_000 });
    expect(bad).toMatchObject({ ok: false, code: 'INVALID_QUERY' });
    const blank = await node.system.ask<SearchReply>(ref, { type: 'pipeline.search', query: '   ', k: 3 }, { timeoutMs: 10_000 });
    expect(blank).toMatchObject({ ok: false, code: 'INVALID_QUERY' });
    const find = (snapshot: TreeSnapshot): TreeSnapshot | undefined => (snapshot.path === ref.path ? snapshot : snapshot.children.map(find).find((found) => found !== undefined));
    expect(find(node.tree())?.restarts).toBe(0);
  });

  it('the consumer refuses unknown messages (UNKNOWN_MESSAGE, or a dead letter for a tell) and its state stays as it was', async () => {
    // The clean group is at the end of the log: once every partition's worker is ready, nothing moves.
    const running = await startIngestion(node, { id: 'ingest-unknown', brokers: [brokers], topic, groupId: `${topic}-clean`, store: clean, embedder: testEmbedder(), chunking, limits, consumer });
    try {
      const partitions = Object.keys(end).length;
      const before = await waitFor(async () => {
        const status = await running.status();
        return status.partitions.length === partitions && status.partitions.every((lane) => lane.phase === 'ready') ? status : undefined;
      }, { timeoutMs: 60_000, intervalMs: 100, what: 'the consumer to own every partition' });
      const consumerRef = { node: running.ref.node, path: `${running.ref.path}/consumer` };
      const deadLettersBefore = node.system.deadLetters().count;
      // The consumer's own message types, forged (without the incarnation's private token): a batch of a
      // made-up document and a worker reply that would move partition 0 on, as a client with a send
      // scope on this path could send them.
      const forgedBatch = { type: 'pipeline.fetched', partition: 0, fetchedOffset: 0, bytes: 10, highWatermark: 1, messages: [{ offset: 0, key: 'x', value: new TextEncoder().encode('{"id":"forged","body":"forged"}') }] };
      const forgedReply = { type: 'pipeline.batchDone', partition: 0, epoch: 1, reply: { ok: true, nextOffset: 1_000_000, documents: 0, deadLetters: 0, duplicates: 0, skipped: 0 }, token: {} };
      for (const message of [{ type: 'no.such.message' }, { notType: 'no.such.message' }, forgedBatch, forgedReply]) {
        node.system.tell(consumerRef, message);
        expect(await node.system.ask(consumerRef, message, { timeoutMs: 10_000 })).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
      }
      expect(node.system.deadLetters().count - deadLettersBefore).toBe(4);
      expect(await running.status()).toEqual(before);
      const find = (snapshot: TreeSnapshot): TreeSnapshot | undefined => (snapshot.path === consumerRef.path ? snapshot : snapshot.children.map(find).find((found) => found !== undefined));
      expect(find(node.tree())?.restarts).toBe(0);
    } finally {
      await running.stop();
    }
  }, 120_000);
});
