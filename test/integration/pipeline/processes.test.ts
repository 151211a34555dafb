/**
 * Process-level failures against the real broker and the real multi-connection Postgres:
 *   - `kill -9` of the ingesting process after its database commit and before its Kafka commit: Kafka
 *     redelivers, the restarted process skips what Postgres already holds;
 *   - a rebalance between two consumer processes of one group (the second joins mid-stream, then the
 *     first is killed), the scenario where kafkajs hands one partition's messages to both.
 * After each: rows = unique documents, offsets never moved back, digest = a clean single run's.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { defaultChunking, defaultDocumentLimits, startIngestion, type PipelineStore } from '../../../actors/pipeline/index.js';
import { requiredServices } from '../../services/index.js';
import { freshStore, makeCorpus, messageBytesMax, produceCorpus, testEmbedder, waitForOffsets } from './support.js';
import { childExited, spawnChild, stopAllChildren, stopChild as stopProcess } from '../../support/children.js';
import { waitFor } from '../../support/wait.js';
import { committedOffsets } from '../../support/kafka-offsets.js';

const { kafkaBrokers: brokers, databaseUrl } = requiredServices();
const childPath = join(dirname(fileURLToPath(import.meta.url)), 'ingest-child.ts');
const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  /** Everything the child wrote so far (stdout and stderr). */
  readonly output: () => string;
}

/** Fails a wait at once, with the child's output, when a child that should be ingesting has exited. */
function stillRunning(child: Child, what: string): () => Promise<void> {
  return async () => {
    if (child.process.exitCode === null && child.process.signalCode === null) return;
    throw new Error(`${what} exited (${child.process.signalCode ?? child.process.exitCode}) while ingesting:\n${child.output().slice(-4_000)}`);
  };
}

async function startChild(environment: Record<string, string>): Promise<Child> {
  const child = spawnChild(process.execPath, ['--import', 'tsx', childPath], { cwd: repositoryRoot, env: { ...process.env, ...environment }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = childExited(child).then(({ code, signal }) => signal ?? code);
  await waitFor(() => output.includes('ready') || child.exitCode !== null || child.signalCode !== null, { timeoutMs: 120_000, intervalMs: 50, what: 'the ingesting child to be ready' })
    .catch(async (error: Error) => {
      await stopProcess(child);
      throw new Error(`${error.message}:\n${output}`);
    });
  if (process.env.PIPELINE_CHILD_LOG === '1') child.stdout!.on('data', (chunk: Buffer) => process.stderr.write(`[child ${child.pid}] ${chunk}`));
  if (process.env.PIPELINE_CHILD_LOG === '1') child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[child ${child.pid}] ${chunk}`));
  return { process: child, exited, output: () => output };
}

/** SIGTERM (the child leaves its group cleanly), SIGKILL after 20 s. */
async function stopChild(child: Child): Promise<void> {
  await stopProcess(child.process, { signal: 'SIGTERM', graceMs: 20_000 });
}

async function kafkaCommitted(group: string, topic: string): Promise<Record<number, number>> {
  const admin = new Kafka({ clientId: 'pipeline-test-admin', brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await committedOffsets(admin, group, topic);
  } finally {
    await admin.disconnect();
  }
}

describe('pipeline across processes', () => {
  const topic = `docs-proc-${Date.now().toString(36)}`;
  const corpus = makeCorpus(400, 11);
  let end: Record<number, number>;
  let cleanDigest: string;
  let node: TroupeNode;
  const stores: PipelineStore[] = [];
  const children: Child[] = [];

  beforeAll(async () => {
    end = await produceCorpus(brokers, topic, corpus);
    node = await createNode({ name: 'pipeline-proc-test' });
    const clean = await freshStore(databaseUrl, 'proc_clean');
    stores.push(clean);
    const running = await startIngestion(node, {
      brokers: [brokers], topic, groupId: `${topic}-clean`, store: clean, embedder: testEmbedder(), deadLetterTopic: false,
      chunking: { ...defaultChunking, sizeChars: 300, overlapChars: 60 }, limits: { ...defaultDocumentLimits, messageBytesMax },
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200 },
    });
    await waitForOffsets(clean, `${topic}-clean`, end);
    await running.stop();
    cleanDigest = await clean.digest();
  });

  afterAll(async () => {
    try {
      for (const child of children) await stopChild(child);
    } finally {
      await stopAllChildren();
    }
    await node?.stop();
    for (const store of stores) {
      await store.dropSchema();
      await store.close();
    }
  });

  const environment = (store: PipelineStore, group: string, extra: Record<string, string> = {}): Record<string, string> => ({
    KAFKA_BROKERS: brokers, PIPELINE_DATABASE_URL: databaseUrl, PIPELINE_SCHEMA: store.schema, PIPELINE_TOPIC: topic, PIPELINE_GROUP: group, ...extra,
  });

  it('kill -9 between the database commit and the Kafka commit loses nothing and doubles nothing', async () => {
    const store = await freshStore(databaseUrl, 'proc_kill');
    stores.push(store);
    const group = `${topic}-kill`;
    const doomed = await startChild(environment(store, group, { CRASH_AFTER_COMMITS: '3' }));
    children.push(doomed);
    expect(await doomed.exited, doomed.output().slice(-4_000)).toBe('SIGKILL');
    // The window is real: Postgres is ahead of Kafka's committed offsets for some partition.
    const stored = await store.offsets(group);
    const committed = await kafkaCommitted(group, topic);
    expect(stored.some((row) => row.nextOffset > Math.max(0, committed[row.partition] ?? 0))).toBe(true);
    const survivor = await startChild(environment(store, group));
    children.push(survivor);
    await waitForOffsets(store, group, end);
    await stopChild(survivor);
    expect((await store.counts()).documents).toBe(corpus.uniqueDocuments);
    expect(await store.digest()).toBe(cleanDigest);
  }, 240_000);

  it('a rebalance between two consumer processes, then kill -9 of one, still gives the clean digest', async () => {
    const store = await freshStore(databaseUrl, 'proc_rebalance');
    stores.push(store);
    const group = `${topic}-rebalance`;
    const first = await startChild(environment(store, group));
    children.push(first);
    // Let the first consume part of the log, then add a second member: the group rebalances.
    await waitForProgress(store, group, 0.2);
    console.log('[rebalance] starting second at', JSON.stringify(await store.offsets(group)));
    const second = await startChild(environment(store, group));
    children.push(second);
    await waitForProgress(store, group, 0.5);
    console.log('[rebalance] killing first at', JSON.stringify(await store.offsets(group)));
    await stopProcess(first.process, { signal: 'SIGKILL' });
    expect(await first.exited).toBe('SIGKILL');
    // A failure bound for a loaded machine: the survivor waits out the killed member's session
    // before the group rebalances, then ingests the rest.
    await waitForOffsets(store, group, end, 200_000, stillRunning(second, 'the surviving consumer process'));
    await stopChild(second);
    expect((await store.counts()).documents).toBe(corpus.uniqueDocuments);
    expect(await store.digest()).toBe(cleanDigest);
  }, 420_000);

  async function waitForProgress(store: PipelineStore, group: string, fraction: number): Promise<void> {
    const total = Object.values(end).reduce((sum, offset) => sum + offset, 0);
    let done = 0;
    await waitFor(async () => {
      done = (await store.offsets(group)).reduce((sum, row) => sum + row.nextOffset, 0);
      return done >= total * fraction;
    }, { timeoutMs: 120_000, intervalMs: 50, what: `progress to ${fraction} of the log` }).catch((error: Error) => { throw new Error(`${error.message} (at ${done}/${total})`); });
  }
});
