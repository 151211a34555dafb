/**
 * What the `troupe pipeline` CLI commands call: `troupe pipeline search "..."` and
 * `troupe pipeline replay --from <offset>`. Each takes plain options (filled from flags and the
 * environment: DATABASE_URL, KAFKA_BROKERS) and returns plain data for the CLI to print.
 */
import { hashingEmbedder, type Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';
import { replay, type ReplayResult } from './replay.js';
import type { SearchFilter, SearchHit } from './retrieval.js';
import { createSearch } from './search.js';
import { PipelineStore } from './store.js';

/** Where the pipeline lives, with the defaults the CLI uses. */
export interface PipelineLocation {
  /** Default: DATABASE_URL. */
  readonly databaseUrl?: string;
  /** Default: TROUPE_PIPELINE_SCHEMA or `troupe_pipeline`. */
  readonly schema?: string;
  /** Default: the hashing embedder with 256 dimensions. */
  readonly embedder?: Embedder;
}

function openStore(location: PipelineLocation, embedder: Embedder): PipelineStore {
  const url = location.databaseUrl ?? process.env.DATABASE_URL;
  if (url === undefined || url === '') throw new PipelineError('INVALID_CONFIG', 'no database: pass --database-url or set DATABASE_URL');
  const schema = location.schema ?? process.env.TROUPE_PIPELINE_SCHEMA ?? 'troupe_pipeline';
  return new PipelineStore({ url, schema, model: embedder.model, dimensions: embedder.dimensions, connectionsMax: 2 });
}

/** `troupe pipeline search "<query>" [--k 10] [--source id] [--meta key=value] [--ef-search n]`. */
export async function pipelineSearchCommand(options: PipelineLocation & { query: string; k?: number; filter?: SearchFilter; efSearch?: number }): Promise<SearchHit[]> {
  const embedder = options.embedder ?? hashingEmbedder({ dimensions: 256 });
  const store = openStore(options, embedder);
  try {
    await store.migrate();
    return await createSearch(store, embedder).search(options.query, {
      k: options.k ?? 10, ...(options.filter === undefined ? {} : { filter: options.filter }), ...(options.efSearch === undefined ? {} : { efSearch: options.efSearch }),
    });
  } finally {
    await store.close();
  }
}

/** `troupe pipeline replay --from <offset> [--topic documents] [--group troupe-pipeline]`. */
export async function pipelineReplayCommand(options: PipelineLocation & { from: number; topic?: string; groupId?: string; brokers?: readonly string[]; timeoutMs?: number }): Promise<ReplayResult> {
  const embedder = options.embedder ?? hashingEmbedder({ dimensions: 256 });
  const brokers = options.brokers ?? (process.env.KAFKA_BROKERS ?? '').split(',').filter((broker) => broker !== '');
  if (brokers.length === 0) throw new PipelineError('INVALID_CONFIG', 'no Kafka brokers: pass --brokers or set KAFKA_BROKERS');
  const store = openStore(options, embedder);
  try {
    await store.migrate();
    return await replay({
      brokers, topic: options.topic ?? 'documents', groupId: options.groupId ?? 'troupe-pipeline', from: options.from, store, embedder,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  } finally {
    await store.close();
  }
}
