/**
 * The MiniLM embedder through the pipeline's real storage path: documents are planned by the
 * partition core (planBatch), embedded in one call, and committed by `PipelineStore.commitBatch`
 * (the worker's write: rows, chunk vectors and the offset in one transaction) into real PostgreSQL 16
 * with pgvector and its HNSW index; a paraphrase that shares no content word with its document then
 * finds it first through `createSearch`, and hybrid search finds a document by a rare word. Then the
 * retrieval benchmark's MiniLM recall@10 on paraphrased queries is at least 0.8.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHybridSearch, createSearch, defaultChunking, defaultDocumentLimits, ensureTextIndex, miniLmEmbedder, planBatch, PipelineStore, type MiniLmEmbedder,
} from '../../../actors/pipeline/index.js';
import { ensureMiniLmModel, type MiniLmInstall } from '../../services/minilm.js';
import { serviceAddresses } from '../../services/index.js';
import { lexicalOverlap, runRetrievalBenchmark } from '../../bench/retrieval.js';

const documents = [
  { id: 'kitchen', body: 'Knead the dough for ten minutes, let it prove in a warm place until doubled, then bake it in a hot oven.' },
  { id: 'network', body: 'The router drops packets when its buffers overflow, so senders slow down after noticing the losses.' },
  { id: 'garden', body: 'Water the seedlings in the evening so the soil stays moist overnight and the leaves do not scorch.' },
  { id: 'finance', body: 'A diversified portfolio spreads savings across stocks and bonds to soften the blow of any single crash.' },
  { id: 'medicine', body: 'Fever is the immune system raising body temperature to make conditions hostile for invading microbes.' },
  { id: 'codes', body: 'Error XJ-4471 from the flux capacitor module means the calibration table is missing.' },
];

describe('MiniLM embedder through the pipeline store (real PostgreSQL + pgvector)', () => {
  const databaseUrl = serviceAddresses().databaseUrl ?? '';
  // A service-backed test fails, never skips, when its service is off.
  if (databaseUrl === '') throw new Error('these tests need the real PostgreSQL (TROUPE_SERVICES must include postgres)');
  let install: MiniLmInstall;
  let embedder: MiniLmEmbedder;
  let store: PipelineStore;

  beforeAll(async () => {
    install = await ensureMiniLmModel();
    embedder = await miniLmEmbedder({ modelDirectory: install.modelDirectory, threads: 2 });
    store = new PipelineStore({ url: databaseUrl, schema: `minilm_store_${process.pid}`, model: embedder.model, dimensions: embedder.dimensions });
    await store.dropSchema();
    await store.migrate();
    await ensureTextIndex(store);
  });

  afterAll(async () => {
    await store?.dropSchema().catch(() => undefined);
    await store?.close();
    await embedder?.close();
  });

  it('stores 384-dimensional vectors through commitBatch, and a paraphrase with no shared word finds its document first', async () => {
    const encoder = new TextEncoder();
    const messages = documents.map((document, offset) => ({ offset, key: document.id, value: encoder.encode(JSON.stringify(document)) }));
    const plan = planBatch({ topic: 'minilm', partition: 0, fromOffset: 0, messages }, { chunking: defaultChunking, limits: defaultDocumentLimits });
    const texts = plan.documents.flatMap((document) => document.chunks);
    const vectors = await embedder.embed(texts);
    let next = 0;
    const result = await store.commitBatch('minilm-test', plan, plan.documents.map((document) => document.chunks.map(() => vectors[next++]!)));
    expect(result).toMatchObject({ nextOffset: documents.length, documentsInserted: documents.length });
    const [row] = await store.query<{ dimensions: number }>('dimensions', `SELECT vector_dims(embedding) AS dimensions FROM ${store.schema}.chunks LIMIT 1`);
    expect(row!.dimensions).toBe(384);

    const search = createSearch(store, embedder);
    const paraphrases = [
      { query: 'How long should I work bread mixture with my hands before it rises?', target: 'kitchen' },
      { query: 'Why does my internet connection lose data when the line is congested?', target: 'network' },
      { query: 'Why does a person run hot when they catch a bug?', target: 'medicine' },
    ];
    for (const { query, target } of paraphrases) {
      expect(lexicalOverlap(query, documents.find((document) => document.id === target)!.body)).toBe(0);
      const hits = await search.search(query, { k: 3 });
      expect(hits[0]?.sourceId, query).toBe(target);
      const exact = await search.searchExact(query, { k: 1 });
      expect(exact[0]?.sourceId).toBe(target);
    }

    const hybrid = await createHybridSearch(store, embedder).search('what does XJ-4471 mean', { k: 3 });
    expect(hybrid[0]).toMatchObject({ sourceId: 'codes', textRank: 1 });
  });

  it('reaches recall@10 of at least 0.8 on the benchmark\'s paraphrased queries', async () => {
    const report = await runRetrievalBenchmark({ databaseUrl, modelDirectory: install.modelDirectory, threads: 2 });
    expect(report.queries).toBeGreaterThanOrEqual(100);
    expect(report.minilm.recall10).toBeGreaterThanOrEqual(0.8);
    expect(report.minilm.recall10).toBeGreaterThan(report.hashing.recall10);
  });
});
