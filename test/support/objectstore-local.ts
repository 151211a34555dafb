/**
 * An S3 gateway over a Raft group in this process (test/support/raft-local.ts, real replicas on real
 * files), for gateway tests that need a real S3 client but not separate processes.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { KvPool, S3Gateway, type S3GatewayOptions } from '../../actors/objectstore/index.js';
import { LocalRaftGroup } from './raft-local.js';

export const testCredentials = { accessKeyId: 'TROUPETESTKEY0000001', secretAccessKey: 'troupe-test-secret-key-0000000000000000' };

/** A gateway and its group. */
export interface LocalGateway {
  readonly group: LocalRaftGroup;
  readonly gateway: S3Gateway;
  readonly endpoint: string;
  client(config?: Partial<S3ClientConfig>): S3Client;
  stop(): Promise<void>;
}

/** Starts a group of `replicas` and a gateway over it. */
export async function startLocalGateway(options: { replicas?: number; gateway?: Partial<S3GatewayOptions> } = {}): Promise<LocalGateway> {
  const ids = Array.from({ length: options.replicas ?? 1 }, (_, index) => `r${index + 1}`);
  const group = await LocalRaftGroup.start({ ids, tickMs: 20 });
  try {
    await group.leader();
    const kv = new KvPool({ clientIdPrefix: 's3-local', replicas: ids, transport: group.transport, size: 16 });
    const gateway = await S3Gateway.start({ kv, listen: '127.0.0.1:0', credentials: [testCredentials], domains: ['s3.localhost'], ...options.gateway });
    const endpoint = `http://127.0.0.1:${gateway.port}`;
    const clients: S3Client[] = [];
    return {
      group, gateway, endpoint,
      client(config = {}) {
        const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: testCredentials, maxAttempts: 1, ...config });
        clients.push(client);
        return client;
      },
      async stop() {
        for (const client of clients) client.destroy();
        await gateway.close();
        await group.stop();
      },
    };
  } catch (error) {
    await group.stop();
    throw error;
  }
}
