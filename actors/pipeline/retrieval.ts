/**
 * Semantic retrieval over the chunks: approximate nearest neighbours through the HNSW index (cosine
 * distance), and exact search by sequential scan, the reference that recall is measured against.
 * Only the current version of each source is searched. Settings are `SET LOCAL` inside a transaction,
 * so they never leak to other users of a pooled (or PGlite-multiplexed) connection.
 */
import pgvector from 'pgvector';
import { PipelineError } from './errors.js';
import type { PipelineStore } from './store.js';

/** Narrows a search. Metadata matches by containment: every given key must have the given value. */
export interface SearchFilter {
  readonly sourceIds?: readonly string[];
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

/** Options of one search. */
export interface SearchOptions {
  /** Results wanted (1-1000). */
  readonly k: number;
  readonly filter?: SearchFilter;
  /** HNSW candidate list size (`hnsw.ef_search`); at least k is used. Default 40, pgvector's own. */
  readonly efSearch?: number;
}

/** One matching chunk. */
export interface SearchHit {
  readonly sourceId: string;
  readonly version: number;
  readonly chunkIndex: number;
  readonly title: string;
  readonly content: string;
  readonly metadata: Record<string, string | number | boolean>;
  /** Cosine similarity in [-1, 1] (1 - cosine distance). */
  readonly score: number;
}

/** Largest k a search accepts. */
export const searchResultsMax = 1000;

/** Validates search options from an untrusted caller; throws INVALID_QUERY. */
export function validateSearchOptions(options: SearchOptions): SearchOptions {
  const invalid = (message: string): never => {
    throw new PipelineError('INVALID_QUERY', message);
  };
  if (!Number.isInteger(options.k) || options.k < 1 || options.k > searchResultsMax) invalid(`k must be an integer in [1, ${searchResultsMax}]`);
  if (options.efSearch !== undefined && (!Number.isInteger(options.efSearch) || options.efSearch < 1 || options.efSearch > 1000)) invalid('efSearch must be an integer in [1, 1000]');
  const filter = options.filter;
  if (filter !== undefined) {
    if (typeof filter !== 'object' || filter === null) invalid('filter must be an object');
    if (filter.sourceIds !== undefined && (!Array.isArray(filter.sourceIds) || filter.sourceIds.length > 1000 || !filter.sourceIds.every((id) => typeof id === 'string'))) {
      invalid('filter.sourceIds must be at most 1000 strings');
    }
    if (filter.metadata !== undefined) {
      if (typeof filter.metadata !== 'object' || filter.metadata === null || Array.isArray(filter.metadata)) invalid('filter.metadata must be an object');
      for (const value of Object.values(filter.metadata)) {
        if (!['string', 'number', 'boolean'].includes(typeof value)) invalid('filter.metadata values must be strings, numbers or booleans');
      }
    }
  }
  return options;
}

/** The SQL condition (and its parameters, appended to `values`) of a search filter over chunks `c`. */
export function whereClause(filter: SearchFilter | undefined, values: unknown[]): string {
  const conditions: string[] = [];
  if (filter?.sourceIds !== undefined) {
    values.push([...filter.sourceIds]);
    conditions.push(`c.source_id = ANY($${values.length}::text[])`);
  }
  if (filter?.metadata !== undefined && Object.keys(filter.metadata).length > 0) {
    values.push(JSON.stringify(filter.metadata));
    conditions.push(`c.metadata @> $${values.length}::jsonb`);
  }
  return conditions.length === 0 ? '' : `AND ${conditions.join(' AND ')}`;
}

function atLeast(version: string | undefined, major: number, minor: number): boolean {
  const [foundMajor = 0, foundMinor = 0] = (version ?? '0.0').split('.').map(Number);
  return foundMajor > major || (foundMajor === major && foundMinor >= minor);
}

/** Nearest chunks to `vector`: through the HNSW index (`exact: false`) or by a sequential scan. */
export async function searchVector(store: PipelineStore, vector: readonly number[], options: SearchOptions & { exact?: boolean }): Promise<SearchHit[]> {
  validateSearchOptions(options);
  if (vector.length !== store.options.dimensions) throw new PipelineError('INVALID_QUERY', `query vector has ${vector.length} dimensions, index has ${store.options.dimensions}`);
  const s = store.schema;
  const values: unknown[] = [pgvector.toSql([...vector]), options.k];
  const where = whereClause(options.filter, values);
  const sql = `SELECT c.source_id, c.version, c.chunk_index, d.title, c.content, c.metadata, c.embedding <=> $1::vector AS distance
    FROM ${s}.chunks c
    JOIN ${s}.sources cur ON cur.source_id = c.source_id AND cur.version = c.version
    JOIN ${s}.documents d ON d.source_id = c.source_id AND d.version = c.version
    WHERE true ${where}
    ORDER BY c.embedding <=> $1::vector, c.source_id COLLATE "C", c.chunk_index LIMIT $2`;
  const rows = await store.transaction('search', async (client) => {
    if (options.exact === true) {
      await client.query('SET LOCAL enable_indexscan = off');
      await client.query('SET LOCAL enable_bitmapscan = off');
    } else {
      await client.query(`SET LOCAL hnsw.ef_search = ${Math.max(options.efSearch ?? 40, options.k)}`);
      // pgvector 0.8 can keep scanning the graph until a filter has k matches (plain HNSW stops at ef_search candidates).
      if (options.filter !== undefined && atLeast(store.vectorVersion, 0, 8)) await client.query("SET LOCAL hnsw.iterative_scan = 'relaxed_order'");
    }
    return (await client.query<{ source_id: string; version: string; chunk_index: number; title: string; content: string; metadata: Record<string, string | number | boolean>; distance: number }>(sql, values)).rows;
  });
  const hits = rows.map((row) => ({
    sourceId: row.source_id, version: Number(row.version), chunkIndex: row.chunk_index, title: row.title,
    content: row.content, metadata: row.metadata, score: 1 - Number(row.distance),
  }));
  // relaxed_order may return neighbours slightly out of order.
  return hits.sort((a, b) => b.score - a.score);
}

/** Fraction of the exact top-k (by chunk) that the approximate result found. */
export function recallAtK(approximate: readonly SearchHit[], exact: readonly SearchHit[]): number {
  if (exact.length === 0) return 1;
  const key = (hit: SearchHit): string => `${hit.version}:${hit.chunkIndex}:${hit.sourceId}`;
  const found = new Set(approximate.map(key));
  return exact.filter((hit) => found.has(key(hit))).length / exact.length;
}
