/**
 * The kernel's public surface: the actor system, behaviours, refs, the codec, time and randomness,
 * limits and typed errors.
 */
export { ActorSystem } from './system.js';
export type { ActorSystemOptions, CellSpawnOptions, DeliverResult } from './system.js';
export { Cell, Delivery, isHandlingAsk, kernelOf } from './cell.js';
export type { SupervisionHook } from './cell.js';
export { behaviour, refuseUnknown } from './behaviour.js';
export type {
  ActorContext, AnyBehaviour, AskOptions, Behaviour, MailboxOptions, OverflowPolicy, SpawnOptions, StopReason, Terminated, Timers, UnknownMessageReply,
} from './behaviour.js';
export { ref, isRef, sameRef, childPath, parentPathOf, validateName, validatePath, validateNodeName } from './ref.js';
export type { Envelope, Ref } from './ref.js';
export type { RemoteRouter } from './remote.js';
export { Codec, codec } from './codec.js';
export type { CodecLimits } from './codec.js';
export type { ScanSummary } from './codec-scan.js';
export { RealClock, VirtualClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { createRng, seedFromEnvironment } from './rng.js';
export type { Rng } from './rng.js';
export { limits } from './limits.js';
export { createLogger, logLimits, silentLogger } from './log.js';
export type { LogFields, LogLevel, Logger, LoggerOptions } from './log.js';
export type { Limits } from './limits.js';
export type { InspectionEvent, InspectionObserver, SystemStats, TreeSnapshot } from './inspection.js';
export { formatTree } from './tree-format.js';
export type { DeadLetterRecord } from './dead-letters.js';
export {
  ActorCrashedError, AskTimeoutError, DecodeError, EncodeError, InvalidArgumentError, InvariantError, MailboxFullError,
  NameTakenError, NoSuchActorError, NodeDownError, RemoteError, StoppedError, TroupeError, assert, describeError,
} from './errors.js';
export type { KernelErrorCode } from './errors.js';
export { lengthPrefixed } from './bytes.js';
