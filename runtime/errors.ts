/**
 * Typed errors. Every error Troupe throws or returns carries a stable `code` that callers switch on;
 * the message is for people. Programmer errors are `InvariantError`s raised by `assert`, which crash
 * the actor into its supervisor (TigerBeetle style: assertions stay on).
 */

/** Stable codes for every kernel-level failure. Components add their own codes to their errors. */
export type KernelErrorCode =
  | 'ASK_TIMEOUT'
  | 'NO_SUCH_ACTOR'
  | 'MAILBOX_FULL'
  | 'STOPPED'
  | 'ACTOR_CRASHED'
  | 'NAME_TAKEN'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CHILD_SPEC'
  | 'DECODE_FAILED'
  | 'ENCODE_FAILED'
  | 'FRAME_TOO_LARGE'
  | 'DEPTH_EXCEEDED'
  | 'ITEMS_EXCEEDED'
  | 'DECODED_TOO_LARGE'
  | 'BIGNUM_TOO_LARGE'
  | 'TAG_REFUSED'
  | 'NODE_DOWN'
  | 'INVARIANT';

/** The base of every Troupe error: a stable `code`, optional structured context and a cause. */
export class TroupeError extends Error {
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** A programmer error: a broken invariant. Never caught to continue; it crashes the actor. */
export class InvariantError extends TroupeError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('INVARIANT', message, { context });
  }
}

/** An `ask` that got no reply within its deadline. The outcome of the request is unknown. */
export class AskTimeoutError extends TroupeError {
  constructor(path: string, timeoutMs: number) {
    super('ASK_TIMEOUT', `no reply from ${path} within ${timeoutMs} ms`, { context: { path, timeoutMs } });
  }
}

/** The target path names no live actor. */
export class NoSuchActorError extends TroupeError {
  constructor(path: string) {
    super('NO_SUCH_ACTOR', `no actor at ${path}`, { context: { path } });
  }
}

/** The target's bounded mailbox is full and its overflow policy rejected the message. */
export class MailboxFullError extends TroupeError {
  constructor(path: string, capacity: number) {
    super('MAILBOX_FULL', `mailbox of ${path} is full (${capacity} messages)`, { context: { path, capacity } });
  }
}

/** The system or actor is stopped and takes no more messages. */
export class StoppedError extends TroupeError {
  constructor(what: string) {
    super('STOPPED', `${what} is stopped`, { context: { what } });
  }
}

/** The actor crashed while handling the asked message and the message will not be retried. */
export class ActorCrashedError extends TroupeError {
  constructor(path: string, cause: unknown) {
    super('ACTOR_CRASHED', `${path} crashed handling the request`, { cause, context: { path } });
  }
}

/** The target's node is down or unreachable; a remote ask fails fast with this. */
export class NodeDownError extends TroupeError {
  constructor(node: string) {
    super('NODE_DOWN', `node ${node} is down or unreachable`, { context: { node } });
  }
}

/** A remote failure carried back in a reply envelope, with the code the remote side gave. */
export class RemoteError extends TroupeError {}

/** An actor name or path is already in use. */
export class NameTakenError extends TroupeError {
  constructor(path: string) {
    super('NAME_TAKEN', `an actor already lives at ${path}`, { context: { path } });
  }
}

/** Bad input to a public API: the message names the argument and what was wrong. */
export class InvalidArgumentError extends TroupeError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('INVALID_ARGUMENT', message, { context });
  }
}

/**
 * A decoder refused its input: bad CBOR or not plain data (DECODE_FAILED), or a bound: FRAME_TOO_LARGE,
 * DEPTH_EXCEEDED, ITEMS_EXCEEDED, DECODED_TOO_LARGE, BIGNUM_TOO_LARGE, TAG_REFUSED.
 */
export class DecodeError extends TroupeError {}

/** A value could not be encoded (a class instance, a function, too large). */
export class EncodeError extends TroupeError {}

/** Always-on assertion for invariants. Throws `InvariantError` when `condition` is false. */
export function assert(condition: unknown, message: string, context: Record<string, unknown> = {}): asserts condition {
  if (!condition) throw new InvariantError(message, context);
}

/** Turns anything thrown into a short `{ message, code? }` record for snapshots and replies. */
export function describeError(error: unknown): { message: string; code?: string } {
  if (error instanceof TroupeError) return { message: error.message, code: error.code };
  if (error instanceof Error) return { message: error.message };
  return { message: String(error) };
}
