/**
 * `troupe pipeline search` and `troupe pipeline replay` as a user runs them: the CLI process against
 * the real broker and the real Postgres server, over a schema the pipeline ingested.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestion, type PipelineStore, type SearchHit } from '../../../actors/pipeline/index.js';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { requiredServices } from '../../services/index.js';
import { runCli, stopAllChildren } from '../../support/children.js';
import { freshStore, knownDocuments, makeCorpus, produceCorpus, testEmbedder, waitForOffsets } from './support.js';

const { kafkaBrokers: brokers, databaseUrl } = requiredServices();

afterAll(stopAllChildren);

async function troupe(...words: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const result = await runCli(words, { env: { ...process.env }, timeoutMs: 120_000 });
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

describe('troupe pipeline', { timeout: 180_000 }, () => {
  const topic = `docs-cli-${Date.now().toString(36)}`;
  let node: TroupeNode;
  let store: PipelineStore;

  beforeAll(async () => {
    const end = await produceCorpus(brokers, topic, makeCorpus(40), 2);
    node = await createNode({ name: 'pipeline-cli' });
    store = await freshStore(databaseUrl, 'cli');
    const running = await startIngestion(node, {
      id: 'ingest-cli', brokers: [brokers], topic, groupId: `${topic}-group`, store, embedder: testEmbedder(),
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200 },
    });
    try {
      await waitForOffsets(store, `${topic}-group`, end);
    } finally {
      await running.stop();
    }
  }, 150_000);

  afterAll(async () => {
    await store?.dropSchema();
    await store?.close();
    await node?.stop();
  });

  it('search prints the ranked hits, the known document first', async () => {
    const known = knownDocuments[0];
    const result = await troupe('pipeline', 'search', known.query, '--k', '3', '--database-url', databaseUrl, '--schema', store.schema);
    expect(result.status, result.stderr).toBe(0);
    const hits = JSON.parse(result.stdout) as SearchHit[];
    expect(hits).toHaveLength(3);
    expect(hits[0]!.sourceId).toBe(known.id);
  });

  it('replay from offset 0 reprocesses the topic and reports what it read', async () => {
    const result = await troupe('pipeline', 'replay', '--from', '0', '--topic', topic, '--brokers', brokers, '--database-url', databaseUrl, '--schema', store.schema, '--group', `${topic}-group`);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { from: number; messages: number };
    expect(report.from).toBe(0);
    expect(report.messages).toBeGreaterThan(40);
  });

  it('refuses a replay without --from, with usage and exit 2', async () => {
    const result = await troupe('pipeline', 'replay');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--from');
  });
});
