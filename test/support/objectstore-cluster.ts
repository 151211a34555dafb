/**
 * S3 gateways on a 3-node cluster of real processes (test/support/raft-cluster.ts and raft-node.ts
 * with `--s3-port`): each node runs a Raft replica and a gateway over the group.
 */
import { S3Client, S3ServiceException, type S3ClientConfig } from '@aws-sdk/client-s3';
import { freePort } from './net.js';
import { RaftProcessCluster } from './raft-cluster.js';
import { waitFor } from './wait.js';

export const clusterCredentials = { accessKeyId: 'TROUPECLUSTERKEY0001', secretAccessKey: 'troupe-cluster-secret-000000000000000000' };

/** A running cluster with a gateway on each node. */
export interface GatewayCluster {
  readonly cluster: RaftProcessCluster;
  readonly names: readonly string[];
  /** The endpoint of node `name` (default: the first). */
  endpoint(name?: string): string;
  /** An SDK client of node `name`'s gateway (destroyed by `stop`). */
  client(config?: Partial<S3ClientConfig>, name?: string): S3Client;
  /** Waits until node `name`'s gateway answers (after a start or restart). */
  ready(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `names` (default n1, n2, n3) with gateways and waits for a leader and every gateway. */
export async function startGatewayCluster(options: { names?: readonly string[]; proxied?: boolean; snapshotThreshold?: number } = {}): Promise<GatewayCluster> {
  const names = options.names ?? ['n1', 'n2', 'n3'];
  const ports = new Map<string, number>();
  for (const name of names) ports.set(name, await freePort());
  const cluster = await RaftProcessCluster.start({
    names, proxied: options.proxied ?? false, ...(options.snapshotThreshold !== undefined ? { snapshotThreshold: options.snapshotThreshold } : {}),
    nodeArgs: (name) => ['--s3-port', String(ports.get(name)!), '--s3-access-key', clusterCredentials.accessKeyId, '--s3-secret-key', clusterCredentials.secretAccessKey],
  });
  const clients: S3Client[] = [];
  const endpoint = (name = names[0]!): string => `http://127.0.0.1:${ports.get(name)!}`;
  // An anonymous request is refused 403 once the gateway serves.
  const ready = (name: string): Promise<void> => waitFor(async () => (await fetch(`${endpoint(name)}/`).catch(() => undefined))?.status === 403, { timeoutMs: 60_000, what: `the gateway of ${name}` }).then(() => undefined);
  try {
    await cluster.leader();
    for (const name of names) await ready(name);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    cluster, names, endpoint, ready,
    client(config = {}, name = names[0]!) {
      const client = new S3Client({ endpoint: endpoint(name), region: 'us-east-1', forcePathStyle: true, credentials: clusterCredentials, maxAttempts: 1, ...config });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.destroy();
      await cluster.stop();
    },
  };
}

/** The S3 error code and HTTP status a call fails with; throws if it succeeds or fails some other way. */
export async function s3Failure(call: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof S3ServiceException) return { code: error.name, status: error.$metadata.httpStatusCode };
    throw error;
  }
  throw new Error('the call succeeded');
}
