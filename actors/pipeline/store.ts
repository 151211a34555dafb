/**
 * The Postgres adapter: the only code of the pipeline that talks to the database (through `pg`, to
 * any PostgreSQL with pgvector, or to PGlite over pglite-socket).
 *
 * Exactly-once effect: `commitBatch` writes a batch's documents, chunks, dead letters and the
 * partition's next offset in one transaction, after locking the partition's offset row, so two
 * consumers of one partition (a rebalance) serialise and the second skips what the first applied.
 * Rows are keyed by (source id, version) and inserted with ON CONFLICT DO NOTHING, so a duplicate has
 * no second effect. A trigger refuses any update that moves an offset back.
 *
 * Dead letters are a transactional outbox: they are committed with the batch and published to the
 * dead-letter topic afterwards (`unpublishedDeadLetters` / `markPublished`), so a crash between the
 * two loses none; the topic may see one twice, keyed by source topic/partition/offset for dedupe.
 */
import pg from 'pg';
import pgvector from 'pgvector';
import { documentKey, trimPlan, type BatchPlan } from './core/partition.js';
import { digestRows, type DigestRows } from './core/digest.js';
import { PipelineError } from './errors.js';

/** Where the pipeline's tables live. */
export interface StoreOptions {
  /** A Postgres connection URL. */
  readonly url: string;
  /** Schema of the tables (a plain lower-case identifier); lets several pipelines share a database. */
  readonly schema: string;
  /** Embedding model and dimension: fixed per schema; a mismatch is refused at `migrate`. */
  readonly model: string;
  readonly dimensions: number;
  /** Connections in the pool. */
  readonly connectionsMax?: number;
  /**
   * `incremental` (default): `migrate` creates the HNSW index and every insert maintains it.
   * `deferred`: `migrate` leaves it out, for a bulk load (a replay into an empty schema); call
   * `buildIndex` afterwards, which builds it in one pass, far cheaper than row by row.
   */
  readonly index?: 'incremental' | 'deferred';
}

/** A dead letter waiting in the outbox. */
export interface DeadLetterRow {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Uint8Array | null;
  readonly reason: string;
  readonly detail: string;
}

/** The outcome of committing one batch. */
export interface CommitResult {
  /** The durable next offset after the commit (at least the plan's). */
  readonly nextOffset: number;
  readonly documentsInserted: number;
  readonly deadLettersInserted: number;
  /** Messages dropped because another consumer had already applied them. */
  readonly alreadyApplied: number;
}

/** Row counts, for tests and status. */
export interface StoreCounts {
  readonly documents: number;
  readonly chunks: number;
  readonly sources: number;
  readonly deadLetters: number;
}

const identifierPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws INVALID_CONFIG unless `schema` is a plain identifier (it is spliced into SQL). */
export function validateSchemaName(schema: string): string {
  if (!identifierPattern.test(schema)) throw new PipelineError('INVALID_CONFIG', `schema must match ${identifierPattern}`, { context: { schema } });
  return schema;
}

function storeFailed(what: string, cause: unknown): PipelineError {
  return new PipelineError('STORE_FAILED', `${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

/** The pipeline's tables in one schema, over a connection pool. */
export class PipelineStore {
  readonly schema: string;
  readonly options: StoreOptions;
  readonly #pool: pg.Pool;
  #vectorVersion: string | undefined;

  constructor(options: StoreOptions) {
    this.schema = validateSchemaName(options.schema);
    this.options = options;
    this.#pool = new pg.Pool({ connectionString: options.url, max: options.connectionsMax ?? 4 });
    // An idle client that loses its server must not crash the process; the next query reports it.
    this.#pool.on('error', () => {});
  }

  /** The pgvector version of the server (known after `migrate`). */
  get vectorVersion(): string | undefined {
    return this.#vectorVersion;
  }

  /** Creates the schema and tables if missing, and checks the embedding model matches. Idempotent. */
  async migrate(): Promise<void> {
    const s = this.schema;
    await this.transaction('migrate', async (client) => {
      // Serialise concurrent migrations (two consumer processes starting together).
      await client.query('SELECT pg_advisory_xact_lock(7201, 1)');
      await client.query('CREATE EXTENSION IF NOT EXISTS vector');
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.meta (key text PRIMARY KEY, value text NOT NULL)`);
      await client.query(`INSERT INTO ${s}.meta VALUES ('model', $1), ('dimensions', $2) ON CONFLICT (key) DO NOTHING`, [this.options.model, String(this.options.dimensions)]);
      const meta = await client.query<{ key: string; value: string }>(`SELECT key, value FROM ${s}.meta`);
      const stored = new Map(meta.rows.map((row) => [row.key, row.value]));
      if (stored.get('model') !== this.options.model || stored.get('dimensions') !== String(this.options.dimensions)) {
        throw new PipelineError('INVALID_CONFIG', `schema ${s} holds embeddings of ${stored.get('model')}/${stored.get('dimensions')}, not ${this.options.model}/${this.options.dimensions}`);
      }
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.documents (
        source_id text NOT NULL, version bigint NOT NULL, title text NOT NULL, body text NOT NULL, metadata jsonb NOT NULL,
        content_hash text NOT NULL, topic text NOT NULL, partition integer NOT NULL, kafka_offset bigint NOT NULL,
        PRIMARY KEY (source_id, version))`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.chunks (
        source_id text NOT NULL, version bigint NOT NULL, chunk_index integer NOT NULL, content text NOT NULL,
        metadata jsonb NOT NULL, embedding vector(${this.options.dimensions}) NOT NULL,
        PRIMARY KEY (source_id, version, chunk_index))`);
      if (this.options.index !== 'deferred') await client.query(hnswIndexStatement(s));
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.sources (source_id text PRIMARY KEY, version bigint NOT NULL)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.dead_letters (
        topic text NOT NULL, partition integer NOT NULL, kafka_offset bigint NOT NULL, message_key text, value bytea,
        reason text NOT NULL, detail text NOT NULL, published boolean NOT NULL DEFAULT false,
        PRIMARY KEY (topic, partition, kafka_offset))`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.offsets (
        consumer_group text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
        PRIMARY KEY (consumer_group, topic, partition))`);
      await client.query(`CREATE OR REPLACE FUNCTION ${s}.offsets_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.next_offset < OLD.next_offset THEN
            RAISE EXCEPTION 'offset of %/% would move back from % to %', NEW.topic, NEW.partition, OLD.next_offset, NEW.next_offset;
          END IF;
          RETURN NEW;
        END $$`);
      await client.query(`DROP TRIGGER IF EXISTS offsets_forward ON ${s}.offsets`);
      await client.query(`CREATE TRIGGER offsets_forward BEFORE UPDATE ON ${s}.offsets FOR EACH ROW EXECUTE FUNCTION ${s}.offsets_forward()`);
      const version = await client.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
      this.#vectorVersion = version.rows[0]?.extversion;
    });
  }

  /** Builds the HNSW index if it is missing (after a bulk load into a `deferred` store). Idempotent. */
  async buildIndex(): Promise<void> {
    await this.query('build index', hnswIndexStatement(this.schema));
  }

  /** Whether the HNSW index exists. */
  async hasIndex(): Promise<boolean> {
    const rows = await this.query<{ present: boolean }>('look up index', `SELECT to_regclass($1) IS NOT NULL AS present`, [`${this.schema}.chunks_embedding_hnsw`]);
    return rows[0]?.present === true;
  }

  /** Runs `work` in a transaction on one pooled connection; rolls back and rethrows on failure. */
  async transaction<T>(what: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (cause) {
      throw storeFailed(`${what}: connect`, cause);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // The connection is unusable; release it as broken so the pool drops it.
      }
      if (error instanceof PipelineError) throw error;
      throw storeFailed(what, error);
    } finally {
      client.release(broken);
    }
  }

  /** One query outside a transaction. */
  async query<Row extends pg.QueryResultRow>(what: string, text: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.#pool.query<Row>(text, values)).rows;
    } catch (cause) {
      throw storeFailed(what, cause);
    }
  }

  /** The durable next offset of a partition for a consumer group (0 when never written). */
  async readOffset(group: string, topic: string, partition: number): Promise<number> {
    const rows = await this.query<{ next_offset: string }>('read offset',
      `SELECT next_offset FROM ${this.schema}.offsets WHERE consumer_group = $1 AND topic = $2 AND partition = $3`, [group, topic, partition]);
    return rows[0] === undefined ? 0 : Number(rows[0].next_offset);
  }

  /** Every stored offset of a group. */
  async offsets(group: string): Promise<Array<{ topic: string; partition: number; nextOffset: number }>> {
    const rows = await this.query<{ topic: string; partition: number; next_offset: string }>('read offsets',
      `SELECT topic, partition, next_offset FROM ${this.schema}.offsets WHERE consumer_group = $1 ORDER BY topic, partition`, [group]);
    return rows.map((row) => ({ topic: row.topic, partition: row.partition, nextOffset: Number(row.next_offset) }));
  }

  /** Content hashes of the given documents already stored, keyed by `documentKey`. */
  async knownDocuments(keys: ReadonlyArray<{ sourceId: string; version: number }>): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const rows = await this.query<{ source_id: string; version: string; content_hash: string }>('read known documents',
      `SELECT d.source_id, d.version, d.content_hash FROM ${this.schema}.documents d
       JOIN unnest($1::text[], $2::bigint[]) AS k(source_id, version) ON d.source_id = k.source_id AND d.version = k.version`,
      [keys.map((key) => key.sourceId), keys.map((key) => key.version)]);
    return new Map(rows.map((row) => [documentKey(row.source_id, Number(row.version)), row.content_hash]));
  }

  /**
   * Commits one batch: `embeddings[i][j]` is the vector of chunk j of `plan.documents[i]`. The plan is
   * trimmed against the offset read under the row lock, so work another consumer already committed
   * is not repeated.
   */
  async commitBatch(group: string, plan: BatchPlan, embeddings: ReadonlyArray<ReadonlyArray<readonly number[]>>, beforeCommit?: (plan: BatchPlan) => void | Promise<void>): Promise<CommitResult> {
    const s = this.schema;
    const vectors = new Map(plan.documents.map((document, index) => [document.offset, embeddings[index]!]));
    return this.transaction('commit batch', async (client) => {
      await client.query(`INSERT INTO ${s}.offsets VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING`, [group, plan.topic, plan.partition]);
      const locked = await client.query<{ next_offset: string }>(
        `SELECT next_offset FROM ${s}.offsets WHERE consumer_group = $1 AND topic = $2 AND partition = $3 FOR UPDATE`, [group, plan.topic, plan.partition]);
      const lockedOffset = Number(locked.rows[0]!.next_offset);
      const trimmed = trimPlan(plan, lockedOffset);
      const alreadyApplied = trimmed.skipped - plan.skipped;
      if (trimmed.nextOffset <= lockedOffset) return { nextOffset: lockedOffset, documentsInserted: 0, deadLettersInserted: 0, alreadyApplied };
      const documentsInserted = await insertDocuments(client, s, trimmed, vectors);
      const deadLettersInserted = await insertDeadLetters(client, s, trimmed);
      await client.query(`UPDATE ${s}.offsets SET next_offset = $4 WHERE consumer_group = $1 AND topic = $2 AND partition = $3`,
        [group, plan.topic, plan.partition, trimmed.nextOffset]);
      await beforeCommit?.(trimmed);
      return { nextOffset: trimmed.nextOffset, documentsInserted, deadLettersInserted, alreadyApplied };
    });
  }

  /** Dead letters of a partition not yet published to the dead-letter topic, oldest first. */
  async unpublishedDeadLetters(topic: string, partition: number, limit = 500): Promise<DeadLetterRow[]> {
    const rows = await this.query<{ topic: string; partition: number; kafka_offset: string; message_key: string | null; value: Buffer | null; reason: string; detail: string }>('read outbox',
      `SELECT topic, partition, kafka_offset, message_key, value, reason, detail FROM ${this.schema}.dead_letters
       WHERE topic = $1 AND partition = $2 AND NOT published ORDER BY kafka_offset LIMIT $3`, [topic, partition, limit]);
    return rows.map((row) => ({
      topic: row.topic, partition: row.partition, offset: Number(row.kafka_offset), key: row.message_key,
      value: row.value === null ? null : new Uint8Array(row.value), reason: row.reason, detail: row.detail,
    }));
  }

  /** Marks dead letters as published. */
  async markPublished(topic: string, partition: number, offsets: readonly number[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.query('mark published', `UPDATE ${this.schema}.dead_letters SET published = true WHERE topic = $1 AND partition = $2 AND kafka_offset = ANY($3::bigint[])`,
      [topic, partition, offsets]);
  }

  /** Row counts. */
  async counts(): Promise<StoreCounts> {
    const s = this.schema;
    const rows = await this.query<{ documents: string; chunks: string; sources: string; dead_letters: string }>('count rows',
      `SELECT (SELECT count(*) FROM ${s}.documents) AS documents, (SELECT count(*) FROM ${s}.chunks) AS chunks,
              (SELECT count(*) FROM ${s}.sources) AS sources, (SELECT count(*) FROM ${s}.dead_letters) AS dead_letters`);
    const row = rows[0]!;
    return { documents: Number(row.documents), chunks: Number(row.chunks), sources: Number(row.sources), deadLetters: Number(row.dead_letters) };
  }

  /** Dead letters with their reasons, in log order (for tests and the CLI). */
  async deadLetters(): Promise<Array<{ topic: string; partition: number; offset: number; key: string | null; reason: string; detail: string; published: boolean }>> {
    const rows = await this.query<{ topic: string; partition: number; kafka_offset: string; message_key: string | null; reason: string; detail: string; published: boolean }>('read dead letters',
      `SELECT topic, partition, kafka_offset, message_key, reason, detail, published FROM ${this.schema}.dead_letters ORDER BY topic, partition, kafka_offset`);
    return rows.map((row) => ({ topic: row.topic, partition: row.partition, offset: Number(row.kafka_offset), key: row.message_key, reason: row.reason, detail: row.detail, published: row.published }));
  }

  /** The digest of every row (see digest.ts). */
  async digest(): Promise<string> {
    const s = this.schema;
    const documents = await this.query<{ source_id: string; version: string; content_hash: string }>('digest documents',
      `SELECT source_id, version, content_hash FROM ${s}.documents ORDER BY source_id COLLATE "C", version`);
    const chunks = await this.query<{ source_id: string; version: string; chunk_index: number; content: string; embedding: string }>('digest chunks',
      `SELECT source_id, version, chunk_index, content, embedding::text AS embedding FROM ${s}.chunks ORDER BY source_id COLLATE "C", version, chunk_index`);
    const sources = await this.query<{ source_id: string; version: string }>('digest sources', `SELECT source_id, version FROM ${s}.sources ORDER BY source_id COLLATE "C"`);
    const deadLetters = await this.query<{ topic: string; partition: number; kafka_offset: string; reason: string }>('digest dead letters',
      `SELECT topic, partition, kafka_offset, reason FROM ${s}.dead_letters ORDER BY topic COLLATE "C", partition, kafka_offset`);
    const rows: DigestRows = {
      documents: documents.map((row) => ({ sourceId: row.source_id, version: Number(row.version), contentHash: row.content_hash })),
      chunks: chunks.map((row) => ({ sourceId: row.source_id, version: Number(row.version), chunkIndex: row.chunk_index, content: row.content, embedding: pgvector.fromSql(row.embedding) as number[] })),
      sources: sources.map((row) => ({ sourceId: row.source_id, version: Number(row.version) })),
      deadLetters: deadLetters.map((row) => ({ topic: row.topic, partition: row.partition, offset: Number(row.kafka_offset), reason: row.reason })),
    };
    return digestRows(rows);
  }

  /** Drops the schema and everything in it (tests and `replay --rebuild`). */
  async dropSchema(): Promise<void> {
    await this.query('drop schema', `DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }

  /** Closes the pool. */
  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function hnswIndexStatement(schema: string): string {
  return `CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON ${schema}.chunks USING hnsw (embedding vector_cosine_ops)`;
}

/** Rows per INSERT statement (keeps the parameter count well under Postgres's 65535). */
const rowsPerStatement = 500;

async function insertDocuments(client: pg.PoolClient, s: string, plan: BatchPlan, vectors: ReadonlyMap<number, ReadonlyArray<readonly number[]>>): Promise<number> {
  let inserted = 0;
  const sourceVersions = new Map<string, number>();
  for (let start = 0; start < plan.documents.length; start += rowsPerStatement) {
    const slice = plan.documents.slice(start, start + rowsPerStatement);
    const values: unknown[] = [];
    const tuples = slice.map(({ document, offset }) => {
      values.push(document.sourceId, document.version, document.title, document.body, JSON.stringify(document.metadata), document.contentHash, plan.topic, plan.partition, offset);
      const base = values.length - 9;
      return `(${Array.from({ length: 9 }, (_, index) => `$${base + index + 1}`).join(', ')})`;
    });
    const result = await client.query<{ source_id: string; version: string }>(
      `INSERT INTO ${s}.documents (source_id, version, title, body, metadata, content_hash, topic, partition, kafka_offset)
       VALUES ${tuples.join(', ')} ON CONFLICT (source_id, version) DO NOTHING RETURNING source_id, version`, values);
    inserted += result.rowCount ?? 0;
    const fresh = new Set(result.rows.map((row) => documentKey(row.source_id, Number(row.version))));
    await insertChunks(client, s, slice.filter(({ document }) => fresh.has(documentKey(document.sourceId, document.version))), vectors);
    for (const { document } of slice) {
      if (!fresh.has(documentKey(document.sourceId, document.version))) continue;
      sourceVersions.set(document.sourceId, Math.max(sourceVersions.get(document.sourceId) ?? 0, document.version));
    }
  }
  if (sourceVersions.size > 0) {
    await client.query(`INSERT INTO ${s}.sources (source_id, version) SELECT * FROM unnest($1::text[], $2::bigint[])
      ON CONFLICT (source_id) DO UPDATE SET version = GREATEST(${s}.sources.version, EXCLUDED.version)`, [[...sourceVersions.keys()], [...sourceVersions.values()]]);
  }
  return inserted;
}

async function insertChunks(client: pg.PoolClient, s: string, documents: BatchPlan['documents'], vectors: ReadonlyMap<number, ReadonlyArray<readonly number[]>>): Promise<void> {
  const rows = documents.flatMap(({ document, chunks, offset }) => chunks.map((content, index) => ({ document, content, index, embedding: vectors.get(offset)![index]! })));
  for (let start = 0; start < rows.length; start += rowsPerStatement) {
    const slice = rows.slice(start, start + rowsPerStatement);
    await client.query(`INSERT INTO ${s}.chunks (source_id, version, chunk_index, content, metadata, embedding)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[], $5::jsonb[], $6::vector[]) ON CONFLICT DO NOTHING`, [
      slice.map((row) => row.document.sourceId), slice.map((row) => row.document.version), slice.map((row) => row.index),
      slice.map((row) => row.content), slice.map((row) => JSON.stringify(row.document.metadata)), slice.map((row) => pgvector.toSql([...row.embedding])),
    ]);
  }
}

async function insertDeadLetters(client: pg.PoolClient, s: string, plan: BatchPlan): Promise<number> {
  if (plan.deadLetters.length === 0) return 0;
  const result = await client.query(`INSERT INTO ${s}.dead_letters (topic, partition, kafka_offset, message_key, value, reason, detail)
    SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::bytea[], $6::text[], $7::text[]) ON CONFLICT DO NOTHING`, [
    plan.topic, plan.partition, plan.deadLetters.map((row) => row.offset), plan.deadLetters.map((row) => row.key),
    plan.deadLetters.map((row) => (row.value === null ? null : Buffer.from(row.value))), plan.deadLetters.map((row) => row.reason), plan.deadLetters.map((row) => row.detail),
  ]);
  return result.rowCount ?? 0;
}
