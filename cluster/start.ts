/**
 * `troupe start`: runs one cluster node in this process until SIGTERM/SIGINT, then leaves gracefully
 * (announce leaving, drain, stop actors, close links) and exits 0. Prints one JSON line when listening
 * so scripts and tests learn the address, port and incarnation.
 */
import { readFileSync } from 'node:fs';
import { createLogger } from '../runtime/index.js';
import type { ChildSpec } from '../supervisors/index.js';
import { flag, listFlag, numberFlag, type ParsedArgs } from './args.js';
import { parseTokenSpecs } from './core/scopes.js';
import { demoChildren } from './demo.js';
import { ClusterError } from './errors.js';
import { createClusterNode, type ClusterNode, type ClusterNodeOptions } from './node.js';

/** Flags of `troupe start` that take a value. */
export const startValueFlags = [
  'name', 'listen', 'seeds', 'data', 'secret', 'token', 'advertise', 'tls-cert', 'tls-key', 'tls-ca', 'heartbeat-ms', 'suspect-phi', 'down-phi',
  'acceptable-pause-ms', 'link-idle-ms', 'max-restarts',
] as const;
/** Boolean flags of `troupe start`. */
export const startBooleanFlags = ['mtls', 'no-demo'] as const;

/**
 * Node options from `troupe start` flags (and TROUPE_SECRET / TROUPE_TOKENS). `--token` takes
 * `secret` or `a,b` (admin tokens) or scoped declarations `name=secret:scope,scope;...`.
 */
export function startOptions(args: ParsedArgs, children?: (node: ClusterNode) => readonly ChildSpec[]): ClusterNodeOptions {
  const name = flag(args, 'name', 'TROUPE_NAME');
  if (name === undefined) throw new ClusterError('INVALID_ARGUMENT', '--name is required');
  const secret = flag(args, 'secret', 'TROUPE_SECRET');
  if (secret === undefined) throw new ClusterError('INVALID_ARGUMENT', '--secret (or TROUPE_SECRET) is required');
  const certFile = flag(args, 'tls-cert');
  const keyFile = flag(args, 'tls-key');
  const caFile = flag(args, 'tls-ca');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ClusterError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  const heartbeatIntervalMs = numberFlag(args, 'heartbeat-ms');
  const suspectPhi = numberFlag(args, 'suspect-phi');
  const downPhi = numberFlag(args, 'down-phi');
  const acceptablePauseMs = numberFlag(args, 'acceptable-pause-ms');
  const linkIdleMs = numberFlag(args, 'link-idle-ms');
  const maxRestarts = numberFlag(args, 'max-restarts', 100)!;
  const advertise = flag(args, 'advertise', 'TROUPE_ADVERTISE');
  const dataDir = flag(args, 'data', 'TROUPE_DATA');
  return {
    name, secret,
    listen: flag(args, 'listen', 'TROUPE_LISTEN', '0.0.0.0:7401')!,
    seeds: listFlag(args, 'seeds', 'TROUPE_SEEDS'),
    // `--token X` (or a comma list) declares admin tokens; scoped ones use the syntax of core/scopes.ts.
    tokens: parseTokenSpecs(flag(args, 'token', 'TROUPE_TOKENS') ?? ''),
    ...(advertise !== undefined ? { advertise } : {}),
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(certFile !== undefined && keyFile !== undefined
      ? { tls: { cert: readFileSync(certFile), key: readFileSync(keyFile), ...(caFile ? { ca: readFileSync(caFile) } : {}), requireClientCert: args.flags.has('mtls') } }
      : {}),
    settings: {
      ...(heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs } : {}),
      ...(linkIdleMs !== undefined ? { linkIdleMs } : {}),
      detector: {
        ...(suspectPhi !== undefined ? { suspectPhi } : {}), ...(downPhi !== undefined ? { downPhi } : {}),
        ...(acceptablePauseMs !== undefined ? { acceptablePauseMs } : {}),
      },
    },
    // The node's structured log (refusals, failed joins, crashes) goes to stderr as JSON lines.
    supervision: { maxRestarts, periodMs: 10_000, system: { logger: createLogger() } },
    children: children ?? ((node) => (args.flags.has('no-demo') ? [] : demoChildren(node))),
  };
}

/**
 * Runs a node until a termination signal; resolves with the exit code. Unless the options bring a
 * logger, the node's structured log (crash reports, restarts, escalations, why it stops) goes to stderr.
 * `started` runs once the node listens (a command that hosts a service adds it there); if it fails,
 * the node leaves and the exit code is 1.
 */
export async function runNode(options: ClusterNodeOptions, out: (line: string) => void, started?: (node: ClusterNode) => Promise<void>): Promise<number> {
  const system = options.supervision?.system;
  const node = await createClusterNode({ ...options, supervision: { ...options.supervision, system: { ...system, logger: system?.logger ?? createLogger() } } });
  out(JSON.stringify({ event: 'listening', node: node.name, address: node.address, port: node.port, incarnation: node.incarnation, pid: process.pid }));
  if (started !== undefined) {
    try {
      await started(node);
    } catch (error) {
      out(JSON.stringify({ event: 'fatal', node: node.name, error: (error as Error).message }));
      await node.leave().catch(() => undefined);
      return 1;
    }
  }
  return new Promise((resolve) => {
    let leaving = false;
    const leave = (signal: string): void => {
      if (leaving) return;
      leaving = true;
      out(JSON.stringify({ event: 'leaving', node: node.name, signal }));
      node.leave().then(() => {
        out(JSON.stringify({ event: 'stopped', node: node.name }));
        resolve(0);
      }, () => resolve(1));
    };
    process.once('SIGTERM', () => leave('SIGTERM'));
    process.once('SIGINT', () => leave('SIGINT'));
    void node.terminated.then((termination) => {
      if (!leaving && termination.exitCode !== 0) {
        out(JSON.stringify({ event: 'fatal', node: node.name, error: termination.error ?? 'root supervisor failed', ...(termination.chain ? { chain: termination.chain, child: termination.child } : {}) }));
        resolve(termination.exitCode);
      }
    });
  });
}
