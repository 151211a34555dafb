/**
 * Behaviours: what an actor does, separate from the kernel that runs it (XState style). A behaviour is
 * plain functions over immutable-by-convention state; the kernel owns the mailbox, ordering, crash
 * handling and restarts.
 */
import type { Clock } from './clock.js';
import type { Ref } from './ref.js';
import type { Rng } from './rng.js';

/** Delivered to a watcher when the watched actor stops for good (or never existed). */
export interface Terminated {
  readonly type: 'terminated';
  readonly ref: Ref;
  /** 'normal' for a clean stop, 'crashed' when it stopped after a failure, 'noProc' if it never existed, 'nodeDown' when its node was declared down. */
  readonly reason: 'normal' | 'crashed' | 'noProc' | 'nodeDown';
}

/** What a full mailbox does with a new message: `reject` refuses it (asks fail MAILBOX_FULL, tells go to dead letters). */
export type OverflowPolicy = 'reject';

/** Mailbox bound of an actor. */
export interface MailboxOptions {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
}

/** Options for `ask`. */
export interface AskOptions {
  readonly timeoutMs?: number;
}

/** Keyed timers owned by one actor incarnation; cancelled when it stops or restarts. */
export interface Timers<Message> {
  /** Sends `message` to self once after `delayMs`, replacing any timer with the same key. */
  startSingle(key: string, message: Message, delayMs: number): void;
  /** Sends `message` to self every `intervalMs`, replacing any timer with the same key. */
  startPeriodic(key: string, message: Message, intervalMs: number): void;
  cancel(key: string): void;
  isActive(key: string): boolean;
}

/** Options for spawning an actor. */
export interface SpawnOptions {
  /** The actor's name; its path is the parent's path plus this name. */
  readonly name: string;
  readonly mailbox?: MailboxOptions;
}

/** The actor's view of the kernel, passed to every callback. */
export interface ActorContext<Message = unknown> {
  readonly self: Ref;
  /** The ref the current message came from, when the sender gave one. */
  readonly sender: Ref | undefined;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: Timers<Message>;
  /** How many times this actor has been restarted (0 for the first incarnation). */
  readonly incarnation: number;
  tell(target: Ref, message: unknown): void;
  ask<Reply = unknown>(target: Ref, message: unknown, options?: AskOptions): Promise<Reply>;
  /** Replies to the ask that delivered the current message; returns false if it was a plain tell. */
  reply(value: unknown): boolean;
  /** A function that replies to the current message later (for replies after async work or a durable write). */
  replier(): (value: unknown) => void;
  /** Delivers `Terminated` to this actor when `target` stops for good. */
  watch(target: Ref): void;
  unwatch(target: Ref): void;
  /** Spawns an unsupervised child at `<self.path>/<name>`; it stops when this actor stops. */
  spawn<State, ChildMessage>(behaviour: Behaviour<State, ChildMessage>, options: SpawnOptions): Ref;
  /** Stops this actor normally after the current message. */
  stopSelf(): void;
  /** Sends a message to dead letters with a reason (for messages an actor refuses). */
  deadLetter(message: unknown, reason: string): void;
}

/** What an actor does. `State` is rebuilt by `init` on every (re)start. */
export interface Behaviour<State, Message> {
  /** Shown in the tree snapshot. */
  readonly name: string;
  /** Builds the state; may be async (a durable component replays its log here). Throwing crashes the actor. */
  init(ctx: ActorContext<Message>): State | Promise<State>;
  /** Handles one message and returns the next state. Throwing crashes the actor into its supervisor. */
  receive(state: State, message: Message | Terminated, ctx: ActorContext<Message>): State | Promise<State>;
  /** Runs when the incarnation ends (stop, restart, or crash). */
  onStop?(state: State | undefined, ctx: ActorContext<Message>, reason: StopReason): void | Promise<void>;
  /** Extra status for the tree snapshot (e.g. raft role and term). */
  describe?(state: State): Record<string, unknown>;
  readonly mailbox?: MailboxOptions;
}

/** Why an incarnation ended. */
export type StopReason = 'normal' | 'shutdown' | 'restart' | 'crashed';

/** A behaviour over any state and message, for collections of heterogeneous children. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyBehaviour = Behaviour<any, any>;

/** Convenience for defining a behaviour with inferred types. */
export function behaviour<State, Message>(definition: Behaviour<State, Message>): Behaviour<State, Message> {
  return definition;
}

/** The reply an ask gets when the behaviour does not know the message's `type`. */
export interface UnknownMessageReply {
  readonly ok: false;
  readonly code: 'UNKNOWN_MESSAGE';
  readonly message: string;
}

/**
 * Refuses a message the behaviour does not know (its `default:` case): an ask gets an
 * `UNKNOWN_MESSAGE` reply, a tell goes to dead letters. The caller returns its state unchanged, so a
 * stray or malformed message is visible to the sender and to inspection but never alters the actor.
 */
export function refuseUnknown(ctx: Pick<ActorContext, 'reply' | 'deadLetter'>, message: unknown, behaviourName: string): void {
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  const what = typeof type === 'string' ? `message type ${JSON.stringify(type.slice(0, 100))}` : 'a message without a string type';
  const reply: UnknownMessageReply = { ok: false, code: 'UNKNOWN_MESSAGE', message: `${behaviourName} does not handle ${what}` };
  if (!ctx.reply(reply)) ctx.deadLetter(message, `UNKNOWN_MESSAGE: ${reply.message}`);
}
