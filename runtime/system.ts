/**
 * The actor system: registry of cells, tell/ask/watch, dead letters, inspection, and the seam to the
 * cluster layer. Local and remote refs take the same calls (DESIGN.md section 2).
 */
import nact from 'nact';
import type { AnyBehaviour, AskOptions, MailboxOptions, SpawnOptions, Terminated } from './behaviour.js';
import { Cell, Delivery, type SupervisionHook } from './cell.js';
import { RealClock, type Clock, type TimerHandle } from './clock.js';
import { AskTimeoutError, InvalidArgumentError, NameTakenError, NoSuchActorError, NodeDownError, RemoteError, StoppedError, TroupeError, describeError } from './errors.js';
import type { InspectionEvent, InspectionObserver, SystemStats, TreeSnapshot } from './inspection.js';
import type { KernelServices } from './kernel-services.js';
import { limits } from './limits.js';
import { childPath, validateName, validateNodeName, validatePath, type Envelope, type Ref } from './ref.js';
import type { RemoteRouter } from './remote.js';
import { createRng, type Rng } from './rng.js';
import { DeadLetterEventGate, deadLettersBehaviour, summarizeDeadLetter } from './dead-letters.js';
import { silentLogger, type Logger } from './log.js';

/** Options for an actor system. */
export interface ActorSystemOptions {
  /** This node's name; refs to other names go to the attached remote router. */
  readonly node?: string;
  readonly clock?: Clock;
  /** Seed of the system's Rng (backoff jitter, ids); random when absent. */
  readonly seed?: number;
  /** Default mailbox bound for actors that declare none. */
  readonly mailbox?: MailboxOptions;
  readonly restartBufferCapacity?: number;
  /** Called when an `onStop` throws (the stop still completes). Defaults to printing to stderr. */
  readonly onStopFailure?: (path: string, error: unknown) => void;
  /** The node's structured log (crash reports, refusals); `silentLogger` when absent. */
  readonly logger?: Logger;
}

/** Options for a low-level cell, used by the supervisors layer. */
export interface CellSpawnOptions {
  readonly path: string;
  readonly kind: 'worker' | 'supervisor';
  readonly supervision?: SupervisionHook;
  readonly mailbox?: MailboxOptions;
}

/** The outcome of handing an inbound network envelope to the kernel. */
export type DeliverResult = { readonly ok: true } | { readonly ok: false; readonly code: 'NO_SUCH_ACTOR' | 'MAILBOX_FULL' | 'STOPPED' };

interface PendingAsk {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: TimerHandle;
  readonly node: string;
}

const askPathPrefix = '/temp/ask-';
const deadLettersPath = '/system/deadLetters';

/** A node's local actor runtime over nact. */
export class ActorSystem implements KernelServices {
  readonly node: string;
  readonly clock: Clock;
  readonly rng: Rng;
  /** The node's structured log; every line carries `node`. */
  readonly log: Logger;
  readonly #nactSystem: unknown;
  readonly #cells = new Map<string, Cell>();
  readonly #topLevel: string[] = [];
  readonly #pending = new Map<string, PendingAsk>();
  readonly #observers = new Set<InspectionObserver>();
  readonly #defaultMailbox: MailboxOptions;
  readonly #restartBufferCapacity: number;
  readonly #onStopFailure: (path: string, error: unknown) => void;
  readonly #bootId: string;
  #remote: RemoteRouter | undefined;
  #sequence = 0;
  #cellSequence = 0;
  #stopped = false;
  #counters = { messagesIn: 0, messagesOut: 0, deadLetters: 0, restarts: 0 };
  readonly #deadLetterEvents = new DeadLetterEventGate(limits.deadLetterEventIntervalMs, limits.deadLetterEventsPerInterval);

  constructor(options: ActorSystemOptions = {}) {
    this.node = options.node ?? 'local';
    validateNodeName(this.node);
    this.clock = options.clock ?? new RealClock();
    this.rng = createRng(options.seed ?? ((Math.random() * 4294967296) >>> 0));
    this.log = (options.logger ?? silentLogger).child({ node: this.node });
    this.#bootId = (this.rng.int(0, 2 ** 31) >>> 0).toString(36);
    this.#defaultMailbox = options.mailbox ?? { capacity: limits.mailboxCapacity, overflow: 'reject' };
    this.#restartBufferCapacity = options.restartBufferCapacity ?? limits.restartBufferCapacity;
    this.#onStopFailure = options.onStopFailure ?? ((path, error) => process.stderr.write(`troupe: onStop of ${path} failed: ${describeError(error).message}\n`));
    this.#nactSystem = nact.start();
    const deadLetters = this.createCell(deadLettersBehaviour, { path: deadLettersPath, kind: 'worker' });
    void deadLetters.start();
  }

  /** Spawns an unsupervised top-level actor at `/<name>`. Its init runs before any message it receives. */
  spawn<State, Message>(behaviour: import('./behaviour.js').Behaviour<State, Message>, options: SpawnOptions): Ref {
    validateName(options.name);
    const cell = this.createCell(behaviour, { path: `/${options.name}`, kind: 'worker', ...(options.mailbox ? { mailbox: options.mailbox } : {}) });
    void cell.start();
    return cell.ref;
  }

  /** Creates a cell without starting it (supervisors start it with `cellOf(path).start()`). */
  createCell(behaviour: AnyBehaviour, options: CellSpawnOptions): Cell {
    if (this.#stopped) throw new StoppedError(`actor system ${this.node}`);
    validatePath(options.path);
    if (this.#cells.has(options.path)) throw new NameTakenError(options.path);
    const cut = options.path.lastIndexOf('/');
    const parentPath = cut > 0 ? options.path.slice(0, cut) : undefined;
    const parent = parentPath === undefined ? undefined : this.#cells.get(parentPath);
    if (parentPath !== undefined && parent === undefined && options.path !== deadLettersPath) {
      throw new NoSuchActorError(parentPath);
    }
    this.#cellSequence += 1;
    const cell = new Cell(this, this.#nactSystem, `c${this.#cellSequence}`, {
      path: options.path,
      behaviour,
      kind: options.kind,
      mailbox: options.mailbox ?? behaviour.mailbox ?? this.#defaultMailbox,
      restartBufferCapacity: this.#restartBufferCapacity,
      supervision: options.supervision,
      parentPath: parent === undefined ? undefined : parentPath,
    });
    this.#cells.set(options.path, cell);
    if (parent === undefined) this.#topLevel.push(options.path);
    else parent.children.push(options.path);
    return cell;
  }

  /** The live cell at `path`, if any (for the supervisors layer and inspectors). */
  cellOf(path: string): Cell | undefined {
    return this.#cells.get(path);
  }

  /** Sends `message` to `target` (fire and forget, at-most-once). */
  tell(target: Ref, message: unknown, sender?: Ref): void {
    if (target.node === this.node) {
      const cell = this.#cells.get(target.path);
      if (cell === undefined) {
        this.deadLetter(message, target.path, this.#stopped ? 'stopped' : 'noSuchActor');
        return;
      }
      if (cell.enqueue(sender === undefined ? message : new Delivery(message, sender, undefined, undefined, 0))) this.#counters.messagesIn += 1;
      return;
    }
    this.#sendRemote({ id: this.#nextId(), to: target, body: message, ...(sender ? { from: sender } : {}) }, message);
  }

  /** Sends `message` and waits for the reply, failing with a typed error (ASK_TIMEOUT, NO_SUCH_ACTOR, MAILBOX_FULL, STOPPED, NODE_DOWN). */
  ask<Reply = unknown>(target: Ref, message: unknown, options?: AskOptions, sender?: Ref): Promise<Reply> {
    const timeoutMs = options?.timeoutMs ?? limits.askTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > limits.askTimeoutMsMax) {
      return Promise.reject(new InvalidArgumentError(`ask timeoutMs must be in (0, ${limits.askTimeoutMsMax}]`, { timeoutMs }));
    }
    if (this.#stopped) return Promise.reject(new StoppedError(`actor system ${this.node}`));
    this.#sequence += 1;
    const corr = `${this.#bootId}.${this.#sequence}`;
    const replyTo: Ref = { node: this.node, path: `${askPathPrefix}${corr}` };
    const promise = new Promise<Reply>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.#pending.delete(corr)) reject(new AskTimeoutError(target.path, timeoutMs));
      }, timeoutMs);
      this.#pending.set(corr, { resolve: resolve as (value: unknown) => void, reject, timer, node: target.node });
    });
    const delivery = new Delivery(message, sender, corr, replyTo, 0);
    if (target.node === this.node) {
      const cell = this.#cells.get(target.path);
      if (cell === undefined) this.#settle(corr, undefined, new NoSuchActorError(target.path));
      else if (cell.enqueue(delivery)) this.#counters.messagesIn += 1;
    } else if (this.#remote === undefined || !this.#remote.isUp(target.node)) {
      this.#settle(corr, undefined, new NodeDownError(target.node));
    } else {
      this.#sendRemote({ id: this.#nextId(), to: target, body: message, corr, replyTo, deadlineMs: this.clock.now() + timeoutMs, ...(sender ? { from: sender } : {}) }, message);
    }
    return promise;
  }

  /** Replies to an ask delivery (local or remote asker). */
  reply(to: Delivery, value: unknown, from: Ref): void {
    if (to.replyTo === undefined || to.corr === undefined) return;
    if (to.replyTo.node === this.node) {
      this.#settle(to.corr, value, undefined);
      return;
    }
    this.#sendRemote({ id: this.#nextId(), from, to: to.replyTo, body: value, corr: to.corr }, value);
  }

  /** Fails an ask delivery with `error`, locally or by a failure envelope to the remote asker. */
  failDelivery(delivery: Delivery, error: TroupeError): void {
    if (delivery.replyTo === undefined || delivery.corr === undefined) return;
    if (delivery.replyTo.node === this.node) {
      this.#settle(delivery.corr, undefined, error);
      return;
    }
    this.#sendRemote({ id: this.#nextId(), to: delivery.replyTo, body: null, corr: delivery.corr, failure: { code: error.code, message: error.message } }, null);
  }

  /** Delivers `Terminated` to `watcher` when `target` stops for good (immediately if it does not exist). */
  watch(target: Ref, watcher: Ref): void {
    if (target.node !== this.node) {
      if (this.#remote === undefined || !this.#remote.isUp(target.node)) {
        this.tell(watcher, { type: 'terminated', ref: target, reason: 'nodeDown' } satisfies Terminated);
      } else {
        this.#remote.watch(target, watcher);
      }
      return;
    }
    const cell = this.#cells.get(target.path);
    if (cell === undefined) this.tell(watcher, { type: 'terminated', ref: target, reason: 'noProc' } satisfies Terminated);
    else cell.addWatcher(watcher);
  }

  unwatch(target: Ref, watcher: Ref): void {
    if (target.node !== this.node) {
      this.#remote?.unwatch(target, watcher);
      return;
    }
    this.#cells.get(target.path)?.removeWatcher(watcher);
  }

  /** Registers a (possibly remote) watcher for a local actor at `targetPath`. */
  watchFor(targetPath: string, watcher: Ref): void {
    this.watch({ node: this.node, path: targetPath }, watcher);
  }

  /** Attaches the cluster layer: refs on other nodes go through `router`. */
  attachRemote(router: RemoteRouter): void {
    this.#remote = router;
  }

  /** Hands an inbound, validated network envelope to its local target. */
  deliver(envelope: Envelope): DeliverResult {
    if (this.#stopped) return { ok: false, code: 'STOPPED' };
    if (envelope.to.node !== this.node) return { ok: false, code: 'NO_SUCH_ACTOR' };
    if (envelope.to.path.startsWith(askPathPrefix)) {
      if (envelope.corr === undefined) return { ok: false, code: 'NO_SUCH_ACTOR' };
      const failure = envelope.failure;
      this.#settle(envelope.corr, envelope.body, failure === undefined ? undefined : new RemoteError(failure.code, failure.message));
      return { ok: true };
    }
    const cell = this.#cells.get(envelope.to.path);
    const delivery = new Delivery(envelope.body, envelope.from, envelope.corr, envelope.replyTo, envelope.attempt ?? 0);
    if (cell === undefined) {
      this.undeliverable(delivery, envelope.to.path, 'noSuchActor', new NoSuchActorError(envelope.to.path));
      return { ok: false, code: 'NO_SUCH_ACTOR' };
    }
    if (cell.enqueue(delivery)) {
      this.#counters.messagesIn += 1;
      return { ok: true };
    }
    return { ok: false, code: cell.status === 'stopped' ? 'STOPPED' : 'MAILBOX_FULL' };
  }

  /** The cluster layer declares `node` down: pending asks to it fail fast with NODE_DOWN. */
  nodeDown(node: string): void {
    for (const [corr, pending] of this.#pending) {
      if (pending.node === node) this.#settle(corr, undefined, new NodeDownError(node));
    }
  }

  /** The whole local tree: a synthetic system root whose children are the top-level actors. */
  tree(): TreeSnapshot {
    return {
      node: this.node, path: '/', kind: 'supervisor', behaviour: 'system', status: this.#stopped ? 'stopped' : 'running',
      restarts: 0, mailbox: { depth: 0, processed: 0 },
      children: [...this.#topLevel.filter((path) => !path.startsWith('/system/')), ...this.#topLevel.filter((path) => path.startsWith('/system/'))]
        .map((path) => this.snapshot(path)).filter((snapshot): snapshot is TreeSnapshot => snapshot !== undefined),
    };
  }

  /** The snapshot of one actor and its subtree. */
  snapshot(path: string): TreeSnapshot | undefined {
    const cell = this.#cells.get(path);
    if (cell === undefined) return undefined;
    const details = cell.details();
    return {
      node: this.node, path, kind: cell.kind, behaviour: cell.behaviour.name,
      status: cell.status === 'starting' ? (cell.restarts > 0 ? 'restarting' : 'running') : cell.status,
      restarts: cell.restarts,
      ...(cell.lastError ? { lastError: { ...cell.lastError } } : {}),
      mailbox: { depth: cell.depth, processed: cell.processed },
      ...(details ? { details } : {}),
      children: cell.children.map((child) => this.snapshot(child)).filter((snapshot): snapshot is TreeSnapshot => snapshot !== undefined),
    };
  }

  /** Streams lifecycle events to `observer` until the returned function is called. */
  inspect(observer: InspectionObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Counters for metrics. */
  stats(): SystemStats {
    return {
      ...this.#counters,
      actors: this.#cells.size,
      mailboxDepths: [...this.#cells.values()].map((cell) => ({ path: cell.path, depth: cell.depth })),
    };
  }

  /** The dead-letters actor and how many letters it has counted. */
  deadLetters(): { readonly ref: Ref; readonly count: number } {
    return { ref: { node: this.node, path: deadLettersPath }, count: this.#counters.deadLetters };
  }

  /** Stops every actor (top-level ones in reverse start order) and fails pending asks with STOPPED. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    for (const path of [...this.#topLevel].reverse()) {
      if (path === deadLettersPath) continue;
      await this.#cells.get(path)?.stop();
    }
    await this.#cells.get(deadLettersPath)?.stop();
    this.#stopped = true;
    for (const corr of [...this.#pending.keys()]) this.#settle(corr, undefined, new StoppedError(`actor system ${this.node}`));
    (nact.stop as (ref: unknown) => void)(this.#nactSystem);
  }

  /** True once `stop` has completed. */
  get stopped(): boolean {
    return this.#stopped;
  }

  // ---- KernelServices (called by cells) ----

  spawnOwned(parent: Cell, behaviour: AnyBehaviour, options: SpawnOptions): Ref {
    const cell = this.createCell(behaviour, { path: childPath(parent.path, options.name), kind: 'worker', ...(options.mailbox ? { mailbox: options.mailbox } : {}) });
    parent.owned.push(cell.path);
    void cell.start();
    return cell.ref;
  }

  async stopOwnedChildren(parent: Cell): Promise<void> {
    for (const path of [...parent.owned].reverse()) await this.#cells.get(path)?.stop();
  }

  undeliverable(item: unknown, path: string, reason: string, error: TroupeError): void {
    if (item instanceof Delivery) {
      this.failDelivery(item, error);
      this.deadLetter(item.message, path, reason);
    } else {
      this.deadLetter(item, path, reason);
    }
  }

  deadLetter(message: unknown, path: string, reason: string, from?: Ref): void {
    this.#counters.deadLetters += 1;
    const at = this.clock.now();
    this.#emitDeadLetter(path, at, reason);
    if (path === deadLettersPath) return;
    const store = this.#cells.get(deadLettersPath);
    if (store !== undefined && store.status !== 'stopped') {
      // Only a summary travels on: the body is released here, whatever its size.
      store.enqueue(summarizeDeadLetter(message, path, reason, at, from === undefined ? undefined : `${from.node}:${from.path}`));
    }
  }

  /** A flood of dead letters must not become a flood of events to every inspector: they are coalesced. */
  #emitDeadLetter(path: string, at: number, reason: string): void {
    const admitted = this.#deadLetterEvents.admit(at);
    if (admitted.verdict === 'emit') {
      this.emit({ type: 'deadLetter', node: this.node, path, at, reason });
      return;
    }
    if (!admitted.firstSuppressed) return;
    this.clock.setTimeout(() => {
      const nowMs = this.clock.now();
      const count = this.#deadLetterEvents.closeInterval(nowMs);
      if (count > 0) this.emit({ type: 'deadLetter', node: this.node, path: '*', at: nowMs, reason: 'coalesced', count });
    }, this.#deadLetterEvents.remainingMs(at));
  }

  unregister(cell: Cell): void {
    this.#cells.delete(cell.path);
    const index = this.#topLevel.indexOf(cell.path);
    if (index >= 0) this.#topLevel.splice(index, 1);
    const parent = cell.parentPath === undefined ? undefined : this.#cells.get(cell.parentPath);
    if (parent !== undefined) {
      const childIndex = parent.children.indexOf(cell.path);
      if (childIndex >= 0) parent.children.splice(childIndex, 1);
      const ownedIndex = parent.owned.indexOf(cell.path);
      if (ownedIndex >= 0) parent.owned.splice(ownedIndex, 1);
    }
  }

  emit(event: InspectionEvent): void {
    for (const observer of this.#observers) {
      try {
        observer(event);
      } catch {
        // An observer that throws is broken; removing it keeps the kernel serving everyone else.
        this.#observers.delete(observer);
      }
    }
  }

  countRestart(): void {
    this.#counters.restarts += 1;
  }

  reportStopFailure(path: string, error: unknown): void {
    this.#onStopFailure(path, error);
  }

  #settle(corr: string, value: unknown, error: unknown): void {
    const pending = this.#pending.get(corr);
    if (pending === undefined) return;
    this.#pending.delete(corr);
    this.clock.clearTimeout(pending.timer);
    if (error === undefined) pending.resolve(value);
    else pending.reject(error);
  }

  #sendRemote(envelope: Envelope, message: unknown): void {
    if (this.#remote === undefined) {
      this.deadLetter(message, `${envelope.to.node}:${envelope.to.path}`, 'noRemote');
      if (envelope.corr !== undefined && envelope.replyTo?.node === this.node) this.#settle(envelope.corr, undefined, new NodeDownError(envelope.to.node));
      return;
    }
    this.#counters.messagesOut += 1;
    this.#remote.send(envelope);
  }

  #nextId(): string {
    this.#sequence += 1;
    return `${this.node}.${this.#bootId}.${this.#sequence}`;
  }
}
