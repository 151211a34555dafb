/**
 * Embedders: text in, unit-length vectors out. The pipeline depends only on the `Embedder` interface;
 * the default is `hashingEmbedder`, a deterministic local embedder that needs no model and no network.
 *
 * Feature hashing (Weinberger et al., "Feature Hashing for Large Scale Multitask Learning", 2009):
 * each feature (a lower-cased word, a word bigram, the character trigrams of a word) is hashed with
 * 32-bit FNV-1a into one of `dimensions` buckets with a hash-derived sign, weighted, summed, and the
 * vector is L2-normalised, so cosine similarity measures shared vocabulary. Pure arithmetic in a fixed
 * order: the same text gives the same vector, bit for bit, on every run.
 */
import { InvalidArgumentError } from '../../../runtime/index.js';

/** Turns texts into vectors of one fixed dimension. */
export interface Embedder {
  /** Identifies the model; stored with the index so a different model is never mixed in. */
  readonly model: string;
  readonly dimensions: number;
  /** One vector per text, in order. Rejects with a PipelineError (EMBED_FAILED / EMBED_REJECTED). */
  embed(texts: readonly string[]): Promise<number[][]>;
}

/** Options of the hashing embedder. */
export interface HashingEmbedderOptions {
  readonly dimensions: number;
  /** Weight of word bigrams relative to words. */
  readonly bigramWeight?: number;
  /** Weight of a word's character trigrams together (shared among them), relative to the word. */
  readonly trigramWeight?: number;
}

/** 32-bit FNV-1a over UTF-16 code units, seeded so that feature kinds do not collide. */
function fnv1a(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Lower-cased runs of letters and digits. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The feature-hashing vector of one text (see the module comment). Blank text gives the zero vector. */
export function hashingVector(text: string, options: HashingEmbedderOptions): number[] {
  const { dimensions } = options;
  const bigramWeight = options.bigramWeight ?? 0.5;
  const trigramWeight = options.trigramWeight ?? 0.5;
  const vector = new Array<number>(dimensions).fill(0);
  const add = (feature: string, seed: number, weight: number): void => {
    const hash = fnv1a(feature, seed);
    const bucket = hash % dimensions;
    // The top bit picks the sign, which keeps collisions unbiased in expectation.
    vector[bucket]! += (hash >>> 31) === 1 ? -weight : weight;
  };
  const tokens = tokenize(text);
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index]!;
    add(token, 1, 1);
    if (index + 1 < tokens.length) add(`${token} ${tokens[index + 1]!}`, 2, bigramWeight);
    if (trigramWeight > 0 && token.length > 3) {
      const padded = `^${token}$`;
      // Spread the weight so that a long word's trigrams do not outweigh the word itself.
      const weight = trigramWeight / (padded.length - 2);
      for (let start = 0; start + 3 <= padded.length; start += 1) add(padded.slice(start, start + 3), 3, weight);
    }
  }
  let norm = 0;
  for (const value of vector) norm += value * value;
  if (norm === 0) return vector;
  const scale = 1 / Math.sqrt(norm);
  return vector.map((value) => value * scale);
}

/** The default embedder: feature hashing, local and deterministic. */
export function hashingEmbedder(options: HashingEmbedderOptions = { dimensions: 256 }): Embedder {
  if (!Number.isInteger(options.dimensions) || options.dimensions < 2 || options.dimensions > 16_000) {
    throw new InvalidArgumentError('hashing embedder dimensions must be an integer in [2, 16000]', { dimensions: options.dimensions });
  }
  return {
    model: `troupe-hashing-v1-${options.dimensions}`,
    dimensions: options.dimensions,
    embed: async (texts) => texts.map((text) => hashingVector(text, options)),
  };
}
