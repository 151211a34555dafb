/**
 * `npm start`: one Troupe node with the embedded defaults, ready to use from the CLI, the client SDK
 * and the web UI:
 *   - listens on 127.0.0.1:7401 (TROUPE_LISTEN) for nodes, clients and HTTP (/healthz, /metrics, /api/tree, /ui);
 *   - keeps its data (the storage actor's WAL + LevelDB, the Raft replica's log and state) in ./data/<name> (TROUPE_DATA);
 *   - runs a replica of the replicated KV store at /root/raft; its group is TROUPE_KV_PEERS (default: this node alone);
 *   - joins the cluster of the nodes listed in TROUPE_SEEDS (comma-separated ws:// addresses; default: none, it founds its own);
 *   - hosts a workflow engine at /root/workflows with the demo workflows (greet, order, payment), its histories in ./data/<name>/workflows;
 *   - serves the S3-compatible object store (actors/objectstore) on 127.0.0.1:9000 (TROUPE_S3_LISTEN; any free port
 *     when TROUPE_LISTEN asks for port 0, as tests do), its buckets and
 *     objects in the replicated KV, with the access key TROUPE_S3_ACCESS_KEY / TROUPE_S3_SECRET_KEY, or a pair generated
 *     for this run and printed (more keys: `troupe s3 keys create`);
 *   - the cluster secret and the admin client token come from TROUPE_SECRET / TROUPE_TOKEN, or are generated
 *     for this run and printed (a generated secret means no other node can join; set one to build a cluster);
 *     TROUPE_TOKENS adds scoped client tokens, e.g. 'app=<secret>:kv:read,kv:write,send:/root/app/**'
 *     (syntax and scopes: cluster/core/scopes.ts and the README's security section).
 * Prints the supervision tree, then stops cleanly on Ctrl-C (SIGINT) or SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateCredentials, objectStoreGateway } from '../actors/objectstore/index.js';
import { raftReplica } from '../actors/raft/index.js';
import { storageBehaviour } from '../actors/storage/index.js';
import { demoWorkflows, workflowEngine, workflowHttp } from '../actors/workflow/index.js';
import { adminToken, createClusterNode, demoChildren, parseTokenSpecs } from '../cluster/index.js';
import { formatTree } from '../index.js';
import { createLogger } from '../runtime/index.js';

const name = process.env.TROUPE_NAME ?? 'n1';
const listen = process.env.TROUPE_LISTEN ?? '127.0.0.1:7401';
const dataDir = process.env.TROUPE_DATA ?? join('data', name);
const secret = process.env.TROUPE_SECRET ?? randomBytes(32).toString('hex');
const token = process.env.TROUPE_TOKEN ?? randomBytes(16).toString('hex');
const scopedTokens = parseTokenSpecs(process.env.TROUPE_TOKENS ?? '');
const kvPeers = (process.env.TROUPE_KV_PEERS ?? name).split(',').filter((peer) => peer !== '');
const seeds = (process.env.TROUPE_SEEDS ?? '').split(',').filter((seed) => seed !== '');
const s3Listen = process.env.TROUPE_S3_LISTEN ?? (listen.endsWith(':0') ? '127.0.0.1:0' : '127.0.0.1:9000');
let s3Port = 0;
const generatedS3 = generateCredentials();
const s3Credentials = { accessKeyId: process.env.TROUPE_S3_ACCESS_KEY ?? generatedS3.accessKeyId, secretAccessKey: process.env.TROUPE_S3_SECRET_KEY ?? generatedS3.secretAccessKey };

const node = await createClusterNode({
  name, listen, seeds, secret, dataDir, tokens: [adminToken('admin', token), ...scopedTokens],
  // Refusals (forgeries and FORBIDDEN requests among them), failed joins, crash reports, restarts, escalations and why the node stops are logged to stderr as JSON lines (TROUPE_LOG_LEVEL).
  // The root's intensity matches `troupe start`: a crash storm in the demo actors escalates to /root/demo,
  // which costs the root one restart, so the defaults (3 in 5 s) would let a few storms stop the node.
  supervision: { maxRestarts: 100, periodMs: 10_000, system: { logger: createLogger() } },
  // The workflow engine's API routes and its page (/ui/workflows), linked from /ui.
  http: { extensions: (self) => workflowHttp(self.system, { node: name, path: '/root/workflows/engine' }) },
  children: (cluster) => [
    { id: 'storage', start: storageBehaviour({ directory: join(dataDir, 'storage') }), restart: 'permanent', shutdownMs: 5000, kind: 'worker' },
    {
      id: 'raft', kind: 'worker', restart: 'permanent', shutdownMs: 5000,
      start: raftReplica({ id: name, directory: join(dataDir, 'raft'), peers: Object.fromEntries(kvPeers.map((peer) => [peer, { node: peer, path: '/root/raft' }])) }),
    },
    workflowEngine({ dataDir: join(dataDir, 'workflows'), workflows: demoWorkflows, runPartitions: 4 }),
    objectStoreGateway({ replicas: kvPeers, listen: s3Listen, credentials: [s3Credentials], onListening: (port) => { s3Port = port; } }),
    ...demoChildren(cluster),
  ],
});
const base = `http://${listen.replace('0.0.0.0', '127.0.0.1').replace(/:\d+$/, `:${node.port}`)}`;
console.log(`troupe node ${node.name} listening on ${listen.replace(/:\d+$/, `:${node.port}`)} (incarnation ${node.incarnation})`);
console.log(formatTree(node.system.tree()));
console.log(`admin token: ${token}${scopedTokens.length > 0 ? ` (and scoped tokens ${scopedTokens.map((spec) => spec.name).join(', ')})` : ''}`);
console.log(`web UI:  ${base}/ui?token=${token}   workflows: ${base}/ui/workflows#token=${token}`);
console.log(`CLI:     export TROUPE_URL=ws://127.0.0.1:${node.port} TROUPE_TOKEN=${token}; npm run troupe -- tree; npm run troupe -- kv put greeting hello`);
console.log('         npm run troupe -- workflow start order o1 --input \'{"item":"lamp"}\'; npm run troupe -- workflow signal o1 approve --payload \'"ada"\'; npm run troupe -- workflow history o1');
const s3Endpoint = `http://${s3Listen.replace('0.0.0.0', '127.0.0.1').replace(/:\d+$/, `:${s3Port}`)}`;
console.log(`S3:      ${s3Endpoint}  export AWS_ACCESS_KEY_ID=${s3Credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${s3Credentials.secretAccessKey} AWS_DEFAULT_REGION=us-east-1`);
console.log(`         aws --endpoint-url ${s3Endpoint} s3 mb s3://demo; aws --endpoint-url ${s3Endpoint} s3 cp README.md s3://demo/`);
console.log(`         (or: export TROUPE_S3_ENDPOINT=${s3Endpoint} TROUPE_S3_ACCESS_KEY=${s3Credentials.accessKeyId} TROUPE_S3_SECRET_KEY=${s3Credentials.secretAccessKey}; npm run troupe -- s3 mb s3://demo; npm run troupe -- s3 cp README.md s3://demo/README.md)`);
console.log('(Ctrl-C to stop)');

let leaving = false;
const leave = (signal: string): void => {
  if (leaving) return;
  leaving = true;
  console.log(`\n${signal}: node ${node.name} leaving`);
  void node.leave();
};
process.on('SIGINT', () => leave('SIGINT'));
process.on('SIGTERM', () => leave('SIGTERM'));
const termination = await node.terminated;
console.log(`node ${node.name} stopped (exit ${termination.exitCode})${termination.error !== undefined ? `: ${termination.error}` : ''}`);
process.exit(termination.exitCode);
