/**
 * Child program for the process-level tests: one ingesting process (a node with the ingestion
 * supervisor) configured from the environment. With CRASH_AFTER_COMMITS=n it SIGKILLs itself right
 * after its n-th database commit, before the Kafka offset commit: the window the tests aim at.
 * Prints `ready` once the consumer has started; stops cleanly on SIGTERM.
 */
import { createNode } from '../../../supervisors/index.js';
import { defaultChunking, defaultDocumentLimits, hashingEmbedder, PipelineStore, startIngestion } from '../../../actors/pipeline/index.js';
import { messageBytesMax } from './support.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const embedder = hashingEmbedder({ dimensions: 256 });
  const store = new PipelineStore({ url: required('PIPELINE_DATABASE_URL'), schema: required('PIPELINE_SCHEMA'), model: embedder.model, dimensions: embedder.dimensions });
  await store.migrate();
  const crashAfter = Number(process.env.CRASH_AFTER_COMMITS ?? '0');
  let commits = 0;
  const node = await createNode({ name: `ingest-${process.pid}` });
  const ingestion = await startIngestion(node, {
    brokers: [required('KAFKA_BROKERS')], topic: required('PIPELINE_TOPIC'), groupId: required('PIPELINE_GROUP'), store, embedder,
    chunking: { ...defaultChunking, sizeChars: 300, overlapChars: 60 }, limits: { ...defaultDocumentLimits, messageBytesMax },
    // The production session and rebalance timeouts: on a loaded machine a 3 s session expires while
    // the process is merely slow, and the group churns (and the consumer crash-loops) instead of
    // testing the rebalance and the kill it is here for.
    consumer: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 200, maxBytesPerPartition: 8 * 1024, rebalanceTimeoutMs: 30_000 },
    hooks: {
      afterCommit: (result) => {
        commits += 1;
        if (crashAfter > 0 && commits >= crashAfter && result.documentsInserted > 0) process.kill(process.pid, 'SIGKILL');
      },
    },
  });
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void ingestion.stop().then(() => node.stop()).then(() => store.close()).then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest-child failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
