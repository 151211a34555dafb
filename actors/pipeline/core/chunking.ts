/**
 * Splitting a document body into overlapping chunks. Pure and deterministic.
 *
 * Chunks are measured in characters and cut at whitespace: a chunk holds whole words up to
 * `sizeChars`, and the next chunk starts at the first word that begins within the last `overlapChars`
 * of the previous one, so context spanning a cut appears in both chunks. A single word longer than
 * `sizeChars` is cut hard. Every chunk is non-empty, and consecutive chunks always make progress.
 */
import { InvalidArgumentError } from '../../../runtime/index.js';

/** Chunk size and overlap, in characters. */
export interface ChunkingOptions {
  readonly sizeChars: number;
  readonly overlapChars: number;
  /** A body that would make more chunks than this is cut off after the last one (a bound on work per message). */
  readonly chunksMax: number;
}

/** Defaults for `ChunkingOptions`. */
export const defaultChunking: ChunkingOptions = { sizeChars: 800, overlapChars: 160, chunksMax: 256 };

/** Throws INVALID_ARGUMENT unless the options make progress. */
export function validateChunking(options: ChunkingOptions): ChunkingOptions {
  const { sizeChars, overlapChars, chunksMax } = options;
  if (!Number.isInteger(sizeChars) || sizeChars < 16) throw new InvalidArgumentError('chunking.sizeChars must be an integer >= 16', { sizeChars });
  if (!Number.isInteger(overlapChars) || overlapChars < 0 || overlapChars * 2 > sizeChars) {
    throw new InvalidArgumentError('chunking.overlapChars must be an integer in [0, sizeChars / 2]', { sizeChars, overlapChars });
  }
  if (!Number.isInteger(chunksMax) || chunksMax < 1) throw new InvalidArgumentError('chunking.chunksMax must be a positive integer', { chunksMax });
  return options;
}

interface Word {
  readonly start: number;
  readonly end: number;
}

function wordsOf(text: string, sizeChars: number): Word[] {
  const words: Word[] = [];
  for (const match of text.matchAll(/\S+/g)) {
    const start = match.index;
    const end = start + match[0].length;
    // Cut over-long words into pieces that fit a chunk on their own.
    for (let pieceStart = start; pieceStart < end; pieceStart += sizeChars) words.push({ start: pieceStart, end: Math.min(end, pieceStart + sizeChars) });
  }
  return words;
}

/** Splits `text` into chunks (see the module comment). Whitespace inside a chunk is kept as written. */
export function chunkText(text: string, options: ChunkingOptions = defaultChunking): string[] {
  const { sizeChars, overlapChars, chunksMax } = options;
  const words = wordsOf(text, sizeChars);
  const chunks: string[] = [];
  let first = 0;
  while (first < words.length && chunks.length < chunksMax) {
    const chunkStart = words[first]!.start;
    let last = first;
    while (last + 1 < words.length && words[last + 1]!.end - chunkStart <= sizeChars) last += 1;
    const chunkEnd = words[last]!.end;
    chunks.push(text.slice(chunkStart, chunkEnd));
    if (last + 1 >= words.length) break;
    // Step back into the overlap, but always at least one word forward.
    let next = last + 1;
    while (next - 1 > first && words[next - 1]!.start >= chunkEnd - overlapChars) next -= 1;
    first = next;
  }
  return chunks;
}
