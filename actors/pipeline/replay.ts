/**
 * Replay: consume a topic again from an offset, through the same workers and the same idempotent
 * writes, up to the end of the log as it was when the replay began. Into a database that already has
 * the rows it changes nothing (every message is a duplicate); into an empty schema it rebuilds the
 * database, and the digest matches the original's.
 *
 * The replay runs as its own consumer group with its own offset rows, seeded at `from`, so the live
 * group's offsets are never touched (offsets only move forward); both are removed when it finishes.
 */
import { createNode, type TroupeNode } from '../../supervisors/index.js';
import { PipelineError } from './errors.js';
import { startIngestion, type IngestionOptions } from './ingestion.js';
import { createKafka } from './kafka.js';

/** Options of `replay`: those of an ingestion, less the group, plus where to start. */
export interface ReplayOptions extends Omit<IngestionOptions, 'groupId' | 'id'> {
  /** First offset to replay, in every partition. */
  readonly from: number;
  /** Names the temporary consumer group (`<groupId>.replay-<n>`). */
  readonly groupId: string;
  /** Gives up after this long. */
  readonly timeoutMs?: number;
  /** A node to run on; a private one is created (and stopped) when absent. */
  readonly node?: TroupeNode;
}

/** What a replay did. */
export interface ReplayResult {
  readonly from: number;
  /** Exclusive end offset per partition (the log end when the replay began). */
  readonly endOffsets: Record<number, number>;
  readonly messages: number;
  readonly durationMs: number;
}

async function endOffsetsOf(options: ReplayOptions): Promise<Record<number, number>> {
  const admin = createKafka(options.brokers, `${options.groupId}.replay-admin`).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(options.topic);
    return Object.fromEntries(offsets.map((offset) => [offset.partition, Number(offset.high)]));
  } finally {
    await admin.disconnect();
  }
}

async function cleanUp(options: ReplayOptions, group: string): Promise<void> {
  await options.store.query('drop replay offsets', `DELETE FROM ${options.store.schema}.offsets WHERE consumer_group = $1`, [group]);
  const admin = createKafka(options.brokers, `${group}-cleanup`).admin();
  await admin.connect();
  try {
    await admin.deleteGroups([group]);
  } catch {
    // The group may already be gone (it expires once empty); nothing else depends on it.
  } finally {
    await admin.disconnect();
  }
}

/** Replays `topic` from `from` to the current end of the log. */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  if (!Number.isSafeInteger(options.from) || options.from < 0) throw new PipelineError('INVALID_CONFIG', 'replay from must be a non-negative integer', { context: { from: options.from } });
  const startedAtMs = Date.now();
  const endOffsets = await endOffsetsOf(options);
  const group = `${options.groupId}.replay-${startedAtMs.toString(36)}`;
  const partitions = Object.keys(endOffsets).map(Number);
  await options.store.query('seed replay offsets', `INSERT INTO ${options.store.schema}.offsets SELECT $1, $2, p, $3 FROM unnest($4::int[]) AS p ON CONFLICT DO NOTHING`,
    [group, options.topic, options.from, partitions]);
  const node = options.node ?? (await createNode({ name: 'replay' }));
  const { from, timeoutMs, node: _node, ...ingestion } = options;
  try {
    const running = await startIngestion(node, { ...ingestion, groupId: group, id: `replay-${startedAtMs.toString(36)}` });
    try {
      await waitUntilCaughtUp(options, group, endOffsets, timeoutMs ?? 600_000);
    } finally {
      await running.stop();
    }
  } finally {
    if (options.node === undefined) await node.stop();
    await cleanUp(options, group);
  }
  const messages = partitions.reduce((sum, partition) => sum + Math.max(0, endOffsets[partition]! - from), 0);
  return { from, endOffsets, messages, durationMs: Date.now() - startedAtMs };
}

async function waitUntilCaughtUp(options: ReplayOptions, group: string, endOffsets: Record<number, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = await options.store.offsets(group);
    const done = Object.entries(endOffsets).every(([partition, end]) => {
      const position = stored.find((row) => row.partition === Number(partition))?.nextOffset ?? 0;
      return position >= end;
    });
    if (done) return;
    if (Date.now() > deadline) throw new PipelineError('KAFKA_FAILED', `replay did not reach the end of ${options.topic} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
