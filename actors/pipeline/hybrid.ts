/**
 * Hybrid retrieval: the nearest chunks by embedding (pgvector HNSW, cosine) fused with the best
 * chunks by Postgres full-text rank (`ts_rank_cd` over `to_tsvector('english', content)`) through
 * reciprocal-rank fusion (core/fusion.ts). The full-text side matches any of the query's words after
 * English stemming and stop-word removal (an OR query), so a paraphrase that shares a single word
 * with its passage still gets a rank there. `ensureTextIndex` adds a GIN expression index that makes
 * that side an index scan; without it the full-text side scans the current chunks.
 *
 * Measured by `npm run bench -- retrieval` (see README.md): whether fusion helps depends on the
 * embedder and on how many words queries share with their passages.
 */
import { reciprocalRankConstant, reciprocalRankFusion } from './core/fusion.js';
import { tokenize, type Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';
import { searchResultsMax, searchVector, validateSearchOptions, whereClause, type SearchHit, type SearchOptions } from './retrieval.js';
import type { PipelineStore } from './store.js';
import { queryLengthMax } from './search.js';

/** Words of a query that reach the full-text side; later words are ignored. */
export const textQueryTermsMax = 64;

/** Options of a hybrid search. */
export interface HybridSearchOptions extends SearchOptions {
  /** Candidates taken from each side before fusion (k-1000). Default max(k, 50). */
  readonly candidates?: number;
  /** Weight of the vector side's reciprocal ranks. Default 1. */
  readonly vectorWeight?: number;
  /** Weight of the full-text side's reciprocal ranks. Default 1. */
  readonly textWeight?: number;
  /** The fusion constant. Default 60. */
  readonly rrfConstant?: number;
}

/** A fused hit: `score` is the fused reciprocal-rank score; each side's rank (from 1) or null. */
export interface HybridHit extends SearchHit {
  readonly vectorRank: number | null;
  readonly textRank: number | null;
}

/** Creates the GIN index of the full-text side if missing. Idempotent; takes a lock on the chunks table while it builds. */
export async function ensureTextIndex(store: PipelineStore): Promise<void> {
  await store.query('create text index', `CREATE INDEX IF NOT EXISTS chunks_content_fts ON ${store.schema}.chunks USING gin (to_tsvector('english', content))`);
}

/** The OR query of a text's words (letters and digits only, so no tsquery syntax gets through). */
function textQuery(text: string): string {
  return [...new Set(tokenize(text))].slice(0, textQueryTermsMax).join(' | ');
}

/** Current chunks ranked by full-text match of any of `text`'s words; `score` is `ts_rank_cd`. */
export async function searchText(store: PipelineStore, text: string, options: SearchOptions): Promise<SearchHit[]> {
  validateSearchOptions(options);
  const query = textQuery(text);
  if (query === '') return [];
  const s = store.schema;
  const values: unknown[] = [query, options.k];
  const where = whereClause(options.filter, values);
  const rows = await store.query<{ source_id: string; version: string; chunk_index: number; title: string; content: string; metadata: Record<string, string | number | boolean>; rank: number }>('text search',
    `SELECT c.source_id, c.version, c.chunk_index, d.title, c.content, c.metadata, ts_rank_cd(to_tsvector('english', c.content), q) AS rank
     FROM ${s}.chunks c
     JOIN ${s}.sources cur ON cur.source_id = c.source_id AND cur.version = c.version
     JOIN ${s}.documents d ON d.source_id = c.source_id AND d.version = c.version,
     to_tsquery('english', $1) AS q
     WHERE to_tsvector('english', c.content) @@ q ${where}
     ORDER BY rank DESC, c.source_id COLLATE "C", c.chunk_index LIMIT $2`, values);
  return rows.map((row) => ({
    sourceId: row.source_id, version: Number(row.version), chunkIndex: row.chunk_index, title: row.title,
    content: row.content, metadata: row.metadata, score: Number(row.rank),
  }));
}

function validateHybridOptions(options: HybridSearchOptions): void {
  validateSearchOptions(options);
  const invalid = (message: string): never => {
    throw new PipelineError('INVALID_QUERY', message);
  };
  if (options.candidates !== undefined && (!Number.isInteger(options.candidates) || options.candidates < options.k || options.candidates > searchResultsMax)) {
    invalid(`candidates must be an integer in [k, ${searchResultsMax}]`);
  }
  for (const [name, value] of [['vectorWeight', options.vectorWeight], ['textWeight', options.textWeight], ['rrfConstant', options.rrfConstant]] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1000)) invalid(`${name} must be a number in [0, 1000]`);
  }
}

const hitKey = (hit: SearchHit): string => `${hit.version}:${hit.chunkIndex}:${hit.sourceId}`;

/** The k best chunks by reciprocal-rank fusion of vector search (`vector`) and full-text search (`text`). */
export async function searchHybrid(store: PipelineStore, query: { readonly text: string; readonly vector: readonly number[] }, options: HybridSearchOptions): Promise<HybridHit[]> {
  validateHybridOptions(options);
  const candidates = options.candidates ?? Math.max(options.k, 50);
  const sideOptions: SearchOptions = { ...options, k: candidates };
  const byVector = await searchVector(store, query.vector, sideOptions);
  const byText = await searchText(store, query.text, sideOptions);
  const hits = new Map<string, SearchHit>();
  for (const hit of [...byVector, ...byText]) if (!hits.has(hitKey(hit))) hits.set(hitKey(hit), hit);
  const fused = reciprocalRankFusion([
    { keys: byVector.map(hitKey), weight: options.vectorWeight ?? 1 },
    { keys: byText.map(hitKey), weight: options.textWeight ?? 1 },
  ], options.rrfConstant ?? reciprocalRankConstant);
  return fused.slice(0, options.k).map((entry) => ({ ...hits.get(entry.key)!, score: entry.score, vectorRank: entry.ranks[0] ?? null, textRank: entry.ranks[1] ?? null }));
}

/** Hybrid search over one store with one embedder. */
export interface HybridSearch {
  /** The k best chunks for `query` by fused vector and full-text rank. Throws INVALID_QUERY on bad input. */
  search(query: string, options: HybridSearchOptions): Promise<HybridHit[]>;
}

/** Builds a hybrid search over a migrated store (call `ensureTextIndex` once for an indexed text side). */
export function createHybridSearch(store: PipelineStore, embedder: Embedder): HybridSearch {
  return {
    search: async (query, options) => {
      if (typeof query !== 'string' || query.trim().length === 0 || query.length > queryLengthMax) {
        throw new PipelineError('INVALID_QUERY', `query must be a non-blank string of at most ${queryLengthMax} characters`);
      }
      validateHybridOptions(options);
      const [vector] = await embedder.embed([query]);
      return searchHybrid(store, { text: query, vector: vector! }, options);
    },
  };
}
