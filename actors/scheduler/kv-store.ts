/**
 * Job records in the replicated KV (the Raft component): one key per job under `scheduler/jobs/`,
 * JSON values. The Raft client retries with exactly-once semantics, so a put acknowledged here is
 * committed on a majority; a timeout (no quorum) is an error the host surfaces, never a silent loss.
 */
import { TroupeError } from '../../runtime/index.js';
import type { KvOutcome } from '../raft/index.js';
import type { JobRecord } from './core/index.js';
import type { JobStore } from './host.js';

/** The part of the Raft KV client the store uses. */
export interface KvTextClient {
  put(key: string, value: string): Promise<KvOutcome>;
  delete(key: string): Promise<KvOutcome>;
  scan(start: string, end: string | null, limit: number): Promise<KvOutcome>;
}

/** The KV did not commit a job record (no quorum within the client's deadline, or a refusal). */
export class JobStoreError extends TroupeError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('JOB_STORE_UNAVAILABLE', message, { context });
  }
}

const prefix = 'scheduler/jobs/';
// '0' follows '/' in byte order: the end of the prefix range.
const prefixEnd = 'scheduler/jobs0';
/** Keys read per scan while loading. */
const scanPage = 500;

/** Job records kept in the replicated KV. */
export class KvJobStore implements JobStore {
  constructor(private readonly client: KvTextClient) {}

  async load(): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    let start = prefix;
    for (;;) {
      const outcome = await this.client.scan(start, prefixEnd, scanPage);
      if (!outcome.ok || outcome.type !== 'scan') throw new JobStoreError('could not read the job records', { outcome });
      for (const pair of outcome.pairs) records.push(JSON.parse(pair.value) as JobRecord);
      if (outcome.pairs.length < scanPage) return records;
      start = `${outcome.pairs.at(-1)!.key}\u0000`;
    }
  }

  async put(job: JobRecord): Promise<void> {
    const outcome = await this.client.put(`${prefix}${job.id}`, JSON.stringify(job));
    if (!outcome.ok) throw new JobStoreError(`job ${job.id} was not committed`, { outcome });
  }

  async remove(jobId: string): Promise<void> {
    const outcome = await this.client.delete(`${prefix}${jobId}`);
    if (!outcome.ok) throw new JobStoreError(`job ${jobId} was not deleted`, { outcome });
  }
}
