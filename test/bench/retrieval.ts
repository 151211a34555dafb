/**
 * Retrieval quality on paraphrased queries: `runRetrievalBenchmark` loads `retrieval-corpus.json`
 * (passages on varied topics, each with a query that asks for it in other words) into a real
 * Postgres with pgvector through the pipeline's own write path (planBatch, then
 * `PipelineStore.commitBatch` into a migrated schema with its HNSW index), once per embedder, and
 * reports for each query set recall@10 (the target passage is among the first 10 hits) and MRR@10
 * (mean of 1/rank of the target, 0 when it is not in the first 10):
 *   - hashing: the feature-hashing embedder (lexical), HNSW search;
 *   - minilm: all-MiniLM-L6-v2, HNSW search;
 *   - hybrid: MiniLM's HNSW ranks fused with Postgres full-text ranks by reciprocal-rank fusion;
 *   - hybridHashing and text: the same fusion over the hashing embedder, and full-text rank alone.
 * The same figures are given for keyword queries (a few rare words of the passage), where full-text
 * search is at its strongest, so the two query styles show when fusion pays.
 * It also measures embedding throughput (texts/s) of both embedders over the passages.
 *
 * Used by `retrieval.bench.ts` (`npm run bench -- retrieval`) and callable from other benchmarks.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defaultChunking, defaultDocumentLimits, ensureTextIndex, hashingEmbedder, miniLmEmbedder, planBatch, PipelineStore,
  searchHybrid, searchText, searchVector, tokenize, type Embedder, type SearchHit,
} from '../../actors/pipeline/index.js';

/** One passage of the corpus. */
export interface CorpusPassage {
  readonly id: string;
  readonly text: string;
}

/** One query and the id of the passage it asks for. */
export interface CorpusQuery {
  readonly passage: string;
  readonly text: string;
}

/** The benchmark's data set. */
export interface RetrievalCorpus {
  readonly passages: readonly CorpusPassage[];
  /** Paraphrased queries: the meaning of their passage in other words. */
  readonly queries: readonly CorpusQuery[];
  /** Keyword queries: a few rare words of their passage (names, terms), as a user searching by keyword types them. */
  readonly keywordQueries: readonly CorpusQuery[];
}

/** Quality of one retrieval method over the queries. */
export interface RetrievalFigures {
  /** Fraction of queries whose target passage is among the first 10 hits. */
  readonly recall10: number;
  /** Mean reciprocal rank of the target within the first 10 (0 when absent). */
  readonly mrr: number;
}

/** What `runRetrievalBenchmark` reports. */
export interface RetrievalReport {
  readonly passages: number;
  readonly queries: number;
  readonly hashing: RetrievalFigures;
  readonly minilm: RetrievalFigures;
  /** MiniLM vector ranks fused with full-text ranks (RRF). */
  readonly hybrid: RetrievalFigures;
  /** Hashing vector ranks fused with full-text ranks (RRF). */
  readonly hybridHashing: RetrievalFigures;
  /** Full-text rank alone. */
  readonly text: RetrievalFigures;
  /** The same methods on the keyword queries. */
  readonly keyword: { readonly queries: number; readonly hashing: RetrievalFigures; readonly minilm: RetrievalFigures; readonly hybrid: RetrievalFigures; readonly hybridHashing: RetrievalFigures; readonly text: RetrievalFigures };
  /** Embedding throughput over the passages, texts per second (one `embed` call each). */
  readonly embedTextsPerSecond: { readonly hashing: number; readonly minilm: number };
  /** Mean share of a query's content words whose stem occurs in its target passage. */
  readonly lexicalOverlap: number;
}

const corpusPath = join(dirname(fileURLToPath(import.meta.url)), 'retrieval-corpus.json');

/** Reads the data set shipped beside this file. */
export function loadRetrievalCorpus(): RetrievalCorpus {
  return JSON.parse(readFileSync(corpusPath, 'utf8')) as RetrievalCorpus;
}

const stopWords = new Set(('a an the and or of to in on at for with by from is are was were be been being it its this that these those what which who whom how '
  + 'why when where do does did can could should would will shall may might must i my me we our you your he she they them their his her than then so as if not '
  + 'no yes into out up down over under about after before during each every some any all both more most less few many much very just also only too there here '
  + 'have has had get got make makes made one two').split(' '));

/** Content words of a text: the pipeline's tokens without stop words, stemmed crudely to their first five letters. */
export function contentStems(text: string): string[] {
  return tokenize(text).filter((word) => word.length > 1 && !stopWords.has(word)).map((word) => word.slice(0, 5));
}

/** Share of the query's content words whose stem occurs in the passage (0 = no shared words). */
export function lexicalOverlap(query: string, passage: string): number {
  const passageStems = new Set(contentStems(passage));
  const queryStems = contentStems(query);
  if (queryStems.length === 0) return 0;
  return queryStems.filter((stem) => passageStems.has(stem)).length / queryStems.length;
}

/** Recall@10 and MRR@10 from the rank (from 1) of each query's target, null when not found. */
export function retrievalFigures(ranks: ReadonlyArray<number | null>): RetrievalFigures {
  const inTop = ranks.filter((rank): rank is number => rank !== null && rank <= 10);
  const round = (value: number): number => Math.round(value * 1000) / 1000;
  return { recall10: round(inTop.length / ranks.length), mrr: round(inTop.reduce((sum, rank) => sum + 1 / rank, 0) / ranks.length) };
}

function rankOf(hits: readonly SearchHit[], passage: string): number | null {
  const index = hits.findIndex((hit) => hit.sourceId === passage);
  return index === -1 ? null : index + 1;
}

/** Writes the passages into a fresh schema through planBatch + commitBatch; returns the embedding time. */
async function load(store: PipelineStore, embedder: Embedder, corpus: RetrievalCorpus): Promise<number> {
  await store.dropSchema();
  await store.migrate();
  await ensureTextIndex(store);
  const encoder = new TextEncoder();
  const messages = corpus.passages.map((passage, offset) => ({ offset, key: passage.id, value: encoder.encode(JSON.stringify({ id: passage.id, body: passage.text })) }));
  const plan = planBatch({ topic: 'retrieval', partition: 0, fromOffset: 0, messages }, { chunking: defaultChunking, limits: defaultDocumentLimits });
  if (plan.deadLetters.length > 0) throw new Error(`corpus passages refused: ${plan.deadLetters.map((letter) => letter.detail).join('; ')}`);
  const texts = plan.documents.flatMap((document) => document.chunks);
  const startedAtMs = performance.now();
  const vectors = await embedder.embed(texts);
  const elapsedMs = performance.now() - startedAtMs;
  let next = 0;
  const embeddings = plan.documents.map((document) => document.chunks.map(() => vectors[next++]!));
  const result = await store.commitBatch('retrieval-bench', plan, embeddings);
  if (result.documentsInserted !== corpus.passages.length) throw new Error(`inserted ${result.documentsInserted} of ${corpus.passages.length} passages`);
  return texts.length / (elapsedMs / 1000);
}

/** Figures of the three methods over one query set. */
interface MethodFigures {
  readonly vector: RetrievalFigures;
  readonly hybrid: RetrievalFigures;
  readonly text: RetrievalFigures;
}

interface EmbedderRun {
  readonly paraphrased: MethodFigures;
  readonly keyword: MethodFigures;
  readonly textsPerSecond: number;
}

async function evaluate(store: PipelineStore, embedder: Embedder, queries: readonly CorpusQuery[]): Promise<MethodFigures> {
  const queryVectors = await embedder.embed(queries.map((query) => query.text));
  const vectorRanks: Array<number | null> = [];
  const hybridRanks: Array<number | null> = [];
  const textRanks: Array<number | null> = [];
  for (let index = 0; index < queries.length; index += 1) {
    const query = queries[index]!;
    const vector = queryVectors[index]!;
    vectorRanks.push(rankOf(await searchVector(store, vector, { k: 10 }), query.passage));
    hybridRanks.push(rankOf(await searchHybrid(store, { text: query.text, vector }, { k: 10 }), query.passage));
    textRanks.push(rankOf(await searchText(store, query.text, { k: 10 }), query.passage));
  }
  return { vector: retrievalFigures(vectorRanks), hybrid: retrievalFigures(hybridRanks), text: retrievalFigures(textRanks) };
}

async function runOne(databaseUrl: string, schema: string, embedder: Embedder, corpus: RetrievalCorpus): Promise<EmbedderRun> {
  const store = new PipelineStore({ url: databaseUrl, schema, model: embedder.model, dimensions: embedder.dimensions, connectionsMax: 2 });
  try {
    // A first call warms the model (and the runtime's lazy initialisation) before the timed load.
    await embedder.embed(corpus.passages.slice(0, 8).map((passage) => passage.text));
    const textsPerSecond = await load(store, embedder, corpus);
    return { paraphrased: await evaluate(store, embedder, corpus.queries), keyword: await evaluate(store, embedder, corpus.keywordQueries), textsPerSecond };
  } finally {
    await store.dropSchema().catch(() => undefined);
    await store.close();
  }
}

/** Runs the benchmark against `databaseUrl` with the MiniLM model in `modelDirectory`. */
export async function runRetrievalBenchmark(options: { readonly databaseUrl: string; readonly modelDirectory: string; readonly threads?: number }): Promise<RetrievalReport> {
  const corpus = loadRetrievalCorpus();
  const suffix = `${process.pid}`;
  const hashing = await runOne(options.databaseUrl, `troupe_retrieval_hashing_${suffix}`, hashingEmbedder({ dimensions: 256 }), corpus);
  const model = await miniLmEmbedder({ modelDirectory: options.modelDirectory, ...(options.threads === undefined ? {} : { threads: options.threads }) });
  let minilm: EmbedderRun;
  try {
    minilm = await runOne(options.databaseUrl, `troupe_retrieval_minilm_${suffix}`, model, corpus);
  } finally {
    await model.close();
  }
  const byId = new Map(corpus.passages.map((passage) => [passage.id, passage.text]));
  const overlap = corpus.queries.reduce((sum, query) => sum + lexicalOverlap(query.text, byId.get(query.passage)!), 0) / corpus.queries.length;
  return {
    passages: corpus.passages.length,
    queries: corpus.queries.length,
    hashing: hashing.paraphrased.vector,
    minilm: minilm.paraphrased.vector,
    hybrid: minilm.paraphrased.hybrid,
    hybridHashing: hashing.paraphrased.hybrid,
    text: minilm.paraphrased.text,
    keyword: {
      queries: corpus.keywordQueries.length,
      hashing: hashing.keyword.vector, minilm: minilm.keyword.vector, hybrid: minilm.keyword.hybrid, hybridHashing: hashing.keyword.hybrid, text: minilm.keyword.text,
    },
    embedTextsPerSecond: { hashing: Math.round(hashing.textsPerSecond), minilm: Math.round(minilm.textsPerSecond) },
    lexicalOverlap: Math.round(overlap * 1000) / 1000,
  };
}
