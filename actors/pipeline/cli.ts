/**
 * What the `troupe pipeline` CLI commands call: `troupe pipeline search "..."`,
 * `troupe pipeline replay --from <offset>`, `troupe pipeline ingest --topic ...` (a node that runs the
 * ingestion as a service) and `troupe pipeline status` (asks that node's consumer). Each takes plain
 * options (filled from flags and the environment: DATABASE_URL, KAFKA_BROKERS) and returns plain data
 * for the CLI to print.
 */
import type { Ref } from '../../runtime/index.js';
import type { TroupeNode } from '../../supervisors/index.js';
import { hashingEmbedder, type Embedder } from './core/embedding.js';
import { startIngestion, type Ingestion, type IngestionStatus } from './ingestion.js';
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
  const brokers = brokersFrom(options.brokers);
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

function brokersFrom(brokers: readonly string[] | undefined): readonly string[] {
  const list = brokers ?? (process.env.KAFKA_BROKERS ?? '').split(',').filter((broker) => broker !== '');
  if (list.length === 0) throw new PipelineError('INVALID_CONFIG', 'no Kafka brokers: pass --brokers or set KAFKA_BROKERS');
  return list;
}

/** Default child id (and so path, `/root/<id>`) of the ingestion that `troupe pipeline ingest` runs. */
export const ingestionServiceId = 'ingest';

/**
 * `troupe pipeline ingest --topic <t> [--group g] [--brokers a,b] [--database-url url] [--schema s]`:
 * starts the ingestion tree under `node`'s root (consumer at `/root/ingest/consumer`); `close` stops it
 * and releases the database pool.
 */
export async function startIngestionService(node: TroupeNode, options: PipelineLocation & { topic: string; groupId?: string; brokers?: readonly string[]; id?: string }): Promise<Ingestion & { close(): Promise<void> }> {
  const embedder = options.embedder ?? hashingEmbedder({ dimensions: 256 });
  const brokers = brokersFrom(options.brokers);
  const store = openStore(options, embedder);
  try {
    await store.migrate();
    const ingestion = await startIngestion(node, { id: options.id ?? ingestionServiceId, brokers, topic: options.topic, groupId: options.groupId ?? 'troupe-pipeline', store, embedder });
    return {
      ...ingestion,
      async close() {
        try {
          await ingestion.stop();
        } finally {
          await store.close();
        }
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** `troupe pipeline status`: the consumer's lanes, plus the dead letters in the store when the database is known. */
export async function pipelineStatusCommand(options: PipelineLocation & { consumer: Ref; ask: (ref: Ref, message: unknown) => Promise<unknown> }): Promise<IngestionStatus & { deadLetters?: { total: number; unpublished: number; byPartition: Record<string, number> } }> {
  const status = await options.ask(options.consumer, { type: 'pipeline.status' }) as IngestionStatus;
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  if (url === undefined || url === '') return status;
  const embedder = options.embedder ?? hashingEmbedder({ dimensions: 256 });
  const store = openStore({ ...options, databaseUrl: url }, embedder);
  try {
    const rows = (await store.deadLetters()).filter((row) => row.topic === status.topic);
    const byPartition: Record<string, number> = {};
    for (const row of rows) byPartition[String(row.partition)] = (byPartition[String(row.partition)] ?? 0) + 1;
    return { ...status, deadLetters: { total: rows.length, unpublished: rows.filter((row) => !row.published).length, byPartition } };
  } finally {
    await store.close();
  }
}
