/**
 * The MiniLM embedder against the real model: its ONNX graph (built by test/services/minilm.ts from
 * the safetensors weights) and tokenizer agree with an independent numpy forward pass tokenized by
 * the Rust `tokenizers` library; it ranks paraphrases above unrelated text; padding in a batch does not
 * change a text's vector; and bad input gets typed errors or the documented truncation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { miniLmDimensions, miniLmEmbedder, PipelineError, type MiniLmEmbedder } from '../../../actors/pipeline/index.js';
import { ensureMiniLmModel, miniLmReference, type MiniLmInstall } from '../../services/minilm.js';

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let index = 0; index < a.length; index += 1) sum += a[index]! * b[index]!;
  return sum;
}

function maxDifference(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((value, index) => Math.abs(value - b[index]!)));
}

async function rejection(promise: Promise<unknown>): Promise<PipelineError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

describe('MiniLM embedder (all-MiniLM-L6-v2 through onnxruntime)', () => {
  let install: MiniLmInstall;
  let embedder: MiniLmEmbedder;

  beforeAll(async () => {
    install = await ensureMiniLmModel();
    embedder = await miniLmEmbedder({ modelDirectory: install.modelDirectory, threads: 2 });
  });

  afterAll(async () => {
    await embedder?.close();
  });

  it('gives the tokens and vectors of an independent numpy forward pass (within 1e-4), long texts truncated alike', async () => {
    const long = Array.from({ length: 400 }, (_, index) => `word${index % 37} and stuff`).join(' ');
    const texts = [
      'The cat sat on the mat.',
      'Café owners in Zürich raised prices — again!',
      'HNSW graphs trade recall for speed; ef_search=40 is the default.',
      'a',
      long,
    ];
    const reference = await miniLmReference(install, texts);
    const vectors = await embedder.embed(texts);
    expect(reference.ids[4]).toHaveLength(256);
    for (let index = 0; index < texts.length; index += 1) {
      expect(embedder.tokenize(texts[index]!)).toEqual(reference.ids[index]);
      expect(vectors[index]).toHaveLength(miniLmDimensions);
      expect(maxDifference(vectors[index]!, reference.embeddings[index]!)).toBeLessThan(1e-4);
    }
  });

  it('scores paraphrases closer than unrelated sentences', async () => {
    const [a, paraphrase, unrelated, b, bParaphrase, bUnrelated] = await embedder.embed([
      'The server crashed because it ran out of memory.',
      'The machine went down after exhausting its RAM.',
      'My grandmother bakes bread every Sunday morning.',
      'How do I get a refund for a cancelled flight?',
      'Can I have my money back when the airline calls off my trip?',
      'The recipe needs two cups of flour.',
    ]);
    expect(dot(a!, paraphrase!)).toBeGreaterThan(dot(a!, unrelated!) + 0.2);
    expect(dot(b!, bParaphrase!)).toBeGreaterThan(dot(b!, bUnrelated!) + 0.2);
  });

  it('gives a text the same vector alone and padded in a batch, in the caller order', async () => {
    const texts = ['short', 'a much longer sentence that forces the shorter ones in its run to be padded with many positions', 'medium length text here'];
    const together = await embedder.embed(texts);
    for (let index = 0; index < texts.length; index += 1) {
      const [alone] = await embedder.embed([texts[index]!]);
      expect(maxDifference(alone!, together[index]!)).toBeLessThan(1e-5);
      expect(dot(alone!, alone!)).toBeCloseTo(1, 5);
    }
    const small = await miniLmEmbedder({ modelDirectory: install.modelDirectory, batchSizeMax: 2, threads: 1 });
    try {
      const split = await small.embed(texts);
      for (let index = 0; index < texts.length; index += 1) expect(maxDifference(split[index]!, together[index]!)).toBeLessThan(1e-5);
    } finally {
      await small.close();
    }
  });

  it('truncates a very long text to the first 256 tokens: the tail changes nothing', async () => {
    const head = 'Replicated logs keep every replica in the same order. '.repeat(60);
    const first = `${head}${'tail one '.repeat(100_000)}`;
    const second = `${head}${'something else entirely '.repeat(50)}`;
    const tokens = embedder.tokenize(first);
    expect(tokens).toHaveLength(256);
    expect(tokens[0]).toBe(101); // [CLS]
    expect(tokens[255]).toBe(102); // [SEP]
    const [a, b] = await embedder.embed([first, second]);
    expect(maxDifference(a!, b!)).toBeLessThan(1e-6);
  });

  it('refuses blank and non-string texts with EMBED_REJECTED, finishes a call in flight at close, and then fails with EMBED_FAILED', async () => {
    expect((await rejection(embedder.embed(['fine', '   \n']))).code).toBe('EMBED_REJECTED');
    expect((await rejection(embedder.embed(['']))).code).toBe('EMBED_REJECTED');
    expect((await rejection(embedder.embed([42 as unknown as string]))).code).toBe('EMBED_REJECTED');
    expect(await embedder.embed([])).toEqual([]);
    const other = await miniLmEmbedder({ modelDirectory: install.modelDirectory, threads: 1 });
    // close waits for a call in flight, which completes; later calls fail.
    const pending = other.embed(['a call that is running when close is called']);
    const closing = other.close();
    expect(await pending).toHaveLength(1);
    await closing;
    expect((await rejection(other.embed(['text']))).code).toBe('EMBED_FAILED');
  });

  it('refuses a missing model directory and out-of-range options with INVALID_CONFIG', async () => {
    expect((await rejection(miniLmEmbedder({ modelDirectory: '/nonexistent/minilm' }))).code).toBe('INVALID_CONFIG');
    expect((await rejection(miniLmEmbedder({ modelDirectory: install.modelDirectory, tokensMax: 513 }))).code).toBe('INVALID_CONFIG');
    expect((await rejection(miniLmEmbedder({ modelDirectory: install.modelDirectory, batchSizeMax: 0 }))).code).toBe('INVALID_CONFIG');
  });
});
