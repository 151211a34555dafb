/**
 * Reading a consumer group's committed offsets in tests. kafkajs' admin `fetchOffsets` asks the group
 * coordinator it found once and does not retry the broker's transient refusals: on a loaded machine
 * the coordinator of a new group can still be loading or moving (NOT_COORDINATOR,
 * COORDINATOR_LOAD_IN_PROGRESS), and the read fails though nothing is wrong. This retries the errors
 * kafkajs marks retriable, within a deadline; any other error fails at once.
 */
import type { Admin } from 'kafkajs';
import { waitFor } from './wait.js';

/** The committed offset of every partition of `topic` for `groupId` (-1: none committed). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string, timeoutMs = 30_000): Promise<Record<number, number>> {
  return waitFor(async () => {
    try {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return Object.fromEntries(entry!.partitions.map((partition) => [partition.partition, Number(partition.offset)]));
    } catch (error) {
      if ((error as { retriable?: unknown }).retriable === true) return undefined;
      throw error;
    }
  }, { timeoutMs, intervalMs: 200, what: `the committed offsets of group ${groupId}` });
}
