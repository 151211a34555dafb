/**
 * A cluster node process hosting one Raft replica at `/root/raft`, for multi-process tests and the
 * benchmark:
 *
 *   node --import tsx test/support/raft-node.ts --name n1 --port 7401 --data /tmp/n1 --secret s --token t \
 *        --peers n1,n2,n3 [--seeds ws://...] [--advertise ws://...] [--tick-ms 50] [--snapshot-threshold 10000]
 *        [--s3-port 9000 --s3-access-key KEY --s3-secret-key SECRET [--s3-domains s3.localhost]]
 *
 * With `--s3-port`, the node also runs the object store's S3 gateway (actors/objectstore) over the group.
 * The replica of node `nX` has id `nX`; its peers are `{ node: nY, path: '/root/raft' }`. Prints one
 * JSON line `{"event":"listening",...}` once the node is on the network, and leaves gracefully on
 * SIGTERM.
 */
import * as path from 'node:path';
import { objectStoreGateway } from '../../actors/objectstore/index.js';
import { raftReplica } from '../../actors/raft/index.js';
import { createClusterNode } from '../../cluster/index.js';
import { childArgs } from './child-args.js';

const args = childArgs();
const required = (name: string): string => args.required(name);
const name = required('name');
const dataDir = required('data');
const peerIds = required('peers').split(',');
const peers = Object.fromEntries(peerIds.map((id) => [id, { node: id, path: '/root/raft' }]));
const seeds = (args.get('seeds') ?? '').split(',').filter((seed) => seed !== '');
const advertise = args.get('advertise');
const tickMs = Number(args.get('tick-ms') ?? 50);
const snapshotEntriesThreshold = Number(args.get('snapshot-threshold') ?? 10_000);
const s3Port = args.get('s3-port');
const s3 = s3Port === undefined ? [] : [objectStoreGateway({
  replicas: peerIds, listen: `127.0.0.1:${s3Port}`,
  credentials: [{ accessKeyId: required('s3-access-key'), secretAccessKey: required('s3-secret-key') }],
  domains: (args.get('s3-domains') ?? 's3.localhost').split(','),
  // A test's garbage is collected within its run (the defaults wait minutes).
  sweep: { intervalMs: 1_000, garbageGraceMs: 2_000, pendingGraceMs: 60_000 },
})];

const node = await createClusterNode({
  name,
  listen: `127.0.0.1:${required('port')}`,
  seeds,
  ...(advertise !== undefined ? { advertise } : {}),
  dataDir,
  secret: required('secret'),
  tokens: [required('token')],
  settings: { heartbeatIntervalMs: 250, linkIdleMs: 4_000, detector: { acceptablePauseMs: 1_000, downPhi: 8, suspectPhi: 3 } },
  supervision: { maxRestarts: 100, periodMs: 10_000 },
  children: [{
    id: 'raft',
    start: raftReplica({ id: name, peers, directory: path.join(dataDir, 'raft'), tickMs, raft: { snapshotEntriesThreshold, compactionRetainEntries: Math.min(1_000, Math.floor(snapshotEntriesThreshold / 4)) } }),
    restart: 'permanent',
    shutdownMs: 5_000,
    kind: 'worker',
  }, ...s3],
});
process.stdout.write(`${JSON.stringify({ event: 'listening', node: node.name, port: node.port, incarnation: node.incarnation, pid: process.pid })}\n`);
// The harness holds our stdin open; when it goes away (even killed), so do we: no orphaned nodes.
process.stdin.resume();
process.stdin.once('close', () => process.exit(0));
let leaving = false;
process.once('SIGTERM', () => {
  if (leaving) return;
  leaving = true;
  void node.leave().finally(() => process.exit(0));
});
void node.terminated.then((termination) => {
  if (!leaving) process.exit(termination.exitCode);
});
