/**
 * `troupe pipeline search`, `replay`, `ingest` and `status` as a user runs them: the CLI process
 * against the real broker and the real Postgres server, over a schema the pipeline ingested; `ingest`
 * runs a node process that ingests as a service until SIGTERM, and `status` asks it over the client SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestion, type PipelineStore, type SearchHit } from '../../../actors/pipeline/index.js';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { requiredServices } from '../../services/index.js';
import { childExited, runCli, spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { freePort } from '../../support/net.js';
import { waitFor } from '../../support/wait.js';
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

  it('ingest runs an ingestion as a service on a node; status shows its partitions, lag and dead letters; SIGTERM stops it cleanly', async () => {
    const serviceTopic = `${topic}-service`;
    const end = await produceCorpus(brokers, serviceTopic, makeCorpus(30, 5), 2);
    const serviceStore = await freshStore(databaseUrl, 'cli_service');
    const port = await freePort();
    const token = 'pipeline-cli-token';
    const child = spawnChild(process.execPath, ['--import', 'tsx', 'cli.ts', 'pipeline', 'ingest', '--topic', serviceTopic, '--group', `${serviceTopic}-group`,
      '--brokers', brokers, '--database-url', databaseUrl, '--schema', serviceStore.schema, '--name', 'ingest-1', '--secret', 'cluster-secret',
      '--listen', `127.0.0.1:${port}`, '--token', token], { env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    try {
      await waitFor(() => output.includes('"event":"ingesting"') || child.exitCode !== null, { timeoutMs: 120_000, intervalMs: 50, what: 'the ingest node to start' });
      expect(output).toContain('"consumer":"/root/ingest/consumer"');
      await waitForOffsets(serviceStore, `${serviceTopic}-group`, end);
      const total = Object.values(end).reduce((sum, offset) => sum + offset, 0);
      // The lanes report lag 0 once each has fetched its partition's end.
      const status = await waitFor(async () => {
        const result = await troupe('pipeline', 'status', '--url', `ws://127.0.0.1:${port}`, '--token', token, '--node', 'ingest-1', '--database-url', databaseUrl, '--schema', serviceStore.schema);
        if (result.status !== 0) throw new Error(`status failed: ${result.stderr}`);
        const parsed = JSON.parse(result.stdout) as { topic: string; partitions: Array<{ partition: number; lag: number | null; nextOffset: number }>; deadLetters: { total: number; byPartition: Record<string, number> } };
        return parsed.partitions.length === 2 && parsed.partitions.every((lane) => lane.lag === 0) ? parsed : undefined;
      }, { timeoutMs: 60_000, intervalMs: 200, what: 'status to show both partitions caught up' });
      expect(status.topic).toBe(serviceTopic);
      expect(status.partitions.reduce((sum, lane) => sum + lane.nextOffset, 0)).toBe(total);
      const deadLetters = await serviceStore.deadLetters();
      expect(deadLetters.length).toBeGreaterThan(0);
      expect(status.deadLetters.total).toBe(deadLetters.length);
      const exited = childExited(child);
      child.kill('SIGTERM');
      expect((await exited).code).toBe(0);
      expect(output).toContain('"event":"stopped"');
    } finally {
      if (child.exitCode === null) await stopChild(child);
      await serviceStore.dropSchema();
      await serviceStore.close();
    }
  });
});
