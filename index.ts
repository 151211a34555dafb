/**
 * Troupe's public API for services that embed a node: `import { createNode } from 'troupe'`.
 */
export { createNode, supervisor, validateChildSpec, backoffDelayMs, EscalationError, InvalidChildSpecError } from './supervisors/index.js';
export type { ChildSpec, NodeOptions, NodeTermination, RestartType, RetryPolicy, Strategy, SupervisorOptions, TroupeNode } from './supervisors/index.js';
export {
  ActorSystem, behaviour, codec, Codec, createRng, formatTree, RealClock, VirtualClock, limits, ref,
  TroupeError, AskTimeoutError, NoSuchActorError, MailboxFullError, StoppedError, ActorCrashedError, NodeDownError, DecodeError, InvalidArgumentError,
} from './runtime/index.js';
export type { ActorContext, Behaviour, Clock, Envelope, InspectionEvent, MailboxOptions, Ref, Rng, Terminated, TreeSnapshot } from './runtime/index.js';
export { createClusterNode } from './cluster/index.js';
export type { ClusterNode, ClusterNodeOptions } from './cluster/index.js';
