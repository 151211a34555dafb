/**
 * Troupe's public API for services that embed a node: `import { createNode } from 'troupe'`.
 */
export { supervisor, validateChildSpec, backoffDelayMs, EscalationError, InvalidChildSpecError } from './supervisors/index.js';
export type { ChildSpec, NodeOptions, NodeTermination, RestartType, RetryPolicy, Strategy, SupervisorOptions, TroupeNode } from './supervisors/index.js';
export {
  ActorSystem, behaviour, refuseUnknown, codec, Codec, createRng, formatTree, RealClock, VirtualClock, limits, ref,
  TroupeError, AskTimeoutError, NoSuchActorError, MailboxFullError, StoppedError, ActorCrashedError, NodeDownError, DecodeError, InvalidArgumentError,
} from './runtime/index.js';
export type { ActorContext, Behaviour, Clock, Envelope, InspectionEvent, MailboxOptions, Ref, Rng, Terminated, TreeSnapshot } from './runtime/index.js';
export { createClusterNode } from './cluster/index.js';
export type { ClusterNode, ClusterNodeOptions } from './cluster/index.js';

import { createClusterNode, type ClusterNode, type ClusterNodeOptions } from './cluster/index.js';
import { createNode as createLocalNode, type NodeOptions, type TroupeNode } from './supervisors/index.js';

/** Options of a node that joins a cluster: where it listens, its seeds, the shared secret, client tokens ... */
export type ClusterOptions = Omit<ClusterNodeOptions, 'name' | 'children'>;

/**
 * Starts a node inside this process. Without `cluster` it is a local node (an actor system and its
 * root supervisor); with `cluster` it also listens, joins its seeds and serves clients and HTTP,
 * exactly as `troupe start` does.
 */
export function createNode(options: NodeOptions & { readonly name: string; readonly cluster: ClusterOptions }): Promise<ClusterNode>;
export function createNode(options?: NodeOptions): Promise<TroupeNode>;
export function createNode(options: NodeOptions & { readonly cluster?: ClusterOptions } = {}): Promise<TroupeNode | ClusterNode> {
  const { cluster, ...local } = options;
  if (cluster === undefined) return createLocalNode(local);
  return createClusterNode({
    ...cluster,
    name: local.name ?? 'local',
    ...(local.children !== undefined ? { children: local.children } : {}),
    ...(cluster.supervision === undefined && (local.maxRestarts !== undefined || local.periodMs !== undefined)
      ? { supervision: { ...(local.maxRestarts !== undefined ? { maxRestarts: local.maxRestarts } : {}), ...(local.periodMs !== undefined ? { periodMs: local.periodMs } : {}) } }
      : {}),
  });
}
