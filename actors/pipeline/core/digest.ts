/**
 * The database digest: one SHA-256 over the pipeline's rows in a canonical order, so that two
 * databases built from the same log compare equal however they were built (one clean run, crashes,
 * duplicates, rebalances, a replay). Offsets and timestamps are left out on purpose: they describe how
 * the rows got there, not what they are. Pure.
 */
import { createSha256, sha256Hex, utf8Bytes } from './sha256.js';

/** Rows as the store reads them back, each list in canonical order. */
export interface DigestRows {
  readonly documents: ReadonlyArray<{ sourceId: string; version: number; contentHash: string }>;
  readonly chunks: ReadonlyArray<{ sourceId: string; version: number; chunkIndex: number; content: string; embedding: readonly number[] }>;
  readonly sources: ReadonlyArray<{ sourceId: string; version: number }>;
  readonly deadLetters: ReadonlyArray<{ topic: string; partition: number; offset: number; reason: string }>;
}

/** Hex SHA-256 of the rows. Embeddings enter as float32 (what pgvector stores). */
export function digestRows(rows: DigestRows): string {
  const hash = createSha256();
  const line = (text: string): void => { hash.update(utf8Bytes(`${text}\n`)); };
  for (const row of rows.documents) line(`document\t${JSON.stringify(row.sourceId)}\t${row.version}\t${row.contentHash}`);
  for (const row of rows.chunks) {
    const embedding = new Uint8Array(Float32Array.from(row.embedding).buffer);
    line(`chunk\t${JSON.stringify(row.sourceId)}\t${row.version}\t${row.chunkIndex}\t${sha256Hex(row.content)}\t${sha256Hex(embedding)}`);
  }
  for (const row of rows.sources) line(`source\t${JSON.stringify(row.sourceId)}\t${row.version}`);
  for (const row of rows.deadLetters) line(`deadLetter\t${JSON.stringify(row.topic)}\t${row.partition}\t${row.offset}\t${row.reason}`);
  return hash.digestHex();
}
