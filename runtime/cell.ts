/**
 * One actor: its mailbox accounting, lifecycle and the context its behaviour sees. The cell is hosted
 * by a nact actor (spawned with `spawn`, never `spawnStateless`, so no error is swallowed) which gives
 * ordering and one-at-a-time processing; the cell adds the bound on the mailbox, the restart buffer,
 * crash capture, typed lifecycle, timers and death watch.
 *
 * Lifecycle: starting -> running -> (restarting -> starting -> running)* -> stopped. While a cell is
 * restarting or being stopped it *holds* new messages in a bounded buffer; a restart delivers them to
 * the new incarnation in order, a stop sends them to dead letters.
 */
import nact from 'nact';
import type { ActorContext, AnyBehaviour, MailboxOptions, StopReason, Terminated, Timers } from './behaviour.js';
import type { TimerHandle } from './clock.js';
import { ActorCrashedError, MailboxFullError, StoppedError, assert, describeError } from './errors.js';
import type { Ref } from './ref.js';
import type { KernelServices } from './kernel-services.js';

const kernelKey = Symbol('troupe.kernel');

/**
 * The kernel behind a context. Only the supervisors layer uses this (a supervisor creates and restarts
 * cells); behaviours talk to the kernel through their context.
 */
export function kernelOf(context: ActorContext): KernelServices {
  const kernel = (context as { [kernelKey]?: KernelServices })[kernelKey];
  assert(kernel !== undefined, 'context has no kernel');
  return kernel;
}

const deliveryKey = Symbol('troupe.delivery');

/**
 * Whether the message a context is handling now was an ask (it has somewhere to reply to). Only the
 * supervisors layer uses this, to refuse an unknown message with a reply or with a dead letter.
 */
export function isHandlingAsk(context: ActorContext): boolean {
  const current = (context as { [deliveryKey]?: () => Delivery | undefined })[deliveryKey]?.();
  return current?.replyTo !== undefined;
}

/** A message together with who sent it and, for an ask, where the reply goes. */
export class Delivery {
  constructor(
    readonly message: unknown,
    readonly sender: Ref | undefined,
    readonly corr: string | undefined,
    readonly replyTo: Ref | undefined,
    /** 0 for the first delivery, n for the n-th redelivery after a crash. */
    readonly attempt: number,
  ) {}
}

/** Kernel instructions that travel through the same nact mailbox, so they keep order with messages. */
class Control {
  constructor(readonly kind: 'init' | 'terminate' | 'stop', readonly done: (ok: boolean) => void) {}
}

/** How a supervisor learns about its child. Both callbacks run synchronously and must not throw. */
export interface SupervisionHook {
  /** The child crashed (in init when `crashed` is undefined). It now holds messages until told what to do. */
  childCrashed(path: string, error: unknown, crashed: Delivery | undefined): void;
  /** The child stopped itself normally. It holds messages until told what to do. */
  childExited(path: string): void;
}

/** Options for a cell. */
export interface CellOptions {
  readonly path: string;
  readonly behaviour: AnyBehaviour;
  readonly kind: 'worker' | 'supervisor';
  readonly mailbox: MailboxOptions;
  readonly restartBufferCapacity: number;
  readonly supervision: SupervisionHook | undefined;
  readonly parentPath: string | undefined;
}

type Status = 'starting' | 'running' | 'restarting' | 'stopped';

/** A mailbox entry: a bare message (a tell without sender), a Delivery, or a Control. */
type Item = unknown;

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** One actor incarnation chain at a path. */
export class Cell {
  readonly path: string;
  readonly ref: Ref;
  readonly kind: 'worker' | 'supervisor';
  readonly behaviour: AnyBehaviour;
  readonly parentPath: string | undefined;
  /** Paths of children in start order (for the tree); `owned` ones are stopped with this cell. */
  readonly children: string[] = [];
  readonly owned: string[] = [];
  status: Status = 'starting';
  restarts = 0;
  incarnation = 0;
  processed = 0;
  lastError: { message: string; at: number } | undefined;
  supervision: SupervisionHook | undefined;

  #state: unknown;
  #queued = 0;
  #holding = true;
  #buffer: Item[] = [];
  #current: Delivery | undefined;
  #stopRequested = false;
  #initialized = false;
  #everStarted = false;
  readonly #mailbox: MailboxOptions;
  readonly #restartBufferCapacity: number;
  readonly #kernel: KernelServices;
  readonly #nactRef: unknown;
  readonly #watchers = new Map<string, Ref>();
  readonly #timers = new Map<string, TimerHandle>();
  readonly #context: ActorContext;

  constructor(kernel: KernelServices, nactParent: unknown, nactName: string, options: CellOptions) {
    this.#kernel = kernel;
    this.path = options.path;
    this.ref = { node: kernel.node, path: options.path };
    this.kind = options.kind;
    this.behaviour = options.behaviour;
    this.parentPath = options.parentPath;
    this.supervision = options.supervision;
    this.#mailbox = options.mailbox;
    this.#restartBufferCapacity = options.restartBufferCapacity;
    this.#context = this.#createContext();
    this.#nactRef = nact.spawn(nactParent as never, (_state: unknown, item: Item) => this.#handle(item), nactName);
  }

  /** Messages waiting: queued in the mailbox plus held in the restart buffer. */
  get depth(): number {
    return this.#queued + this.#buffer.length;
  }

  /** Component status for the tree snapshot. */
  details(): Record<string, unknown> | undefined {
    if (this.behaviour.describe === undefined || this.status !== 'running') return undefined;
    try {
      return this.behaviour.describe(this.#state);
    } catch (error) {
      return { describeFailed: describeError(error).message };
    }
  }

  /** Accepts a message into the mailbox, applying the bound. Returns false if the message was refused. */
  enqueue(item: Item): boolean {
    if (this.status === 'stopped') {
      this.#kernel.undeliverable(item, this.path, 'stopped', new StoppedError(this.path));
      return false;
    }
    if (this.#queued + this.#buffer.length >= this.#mailbox.capacity) {
      this.#kernel.undeliverable(item, this.path, 'mailboxFull', new MailboxFullError(this.path, this.#mailbox.capacity));
      return false;
    }
    this.#queued += 1;
    nact.dispatch(this.#nactRef as never, item);
    return true;
  }

  /** Runs `init` (first start or restart); resolves true if the incarnation is running. */
  start(): Promise<boolean> {
    return this.#control('init');
  }

  /** Ends the current incarnation for a restart; messages are held for the next one. */
  terminate(): Promise<boolean> {
    this.#holding = true;
    return this.#control('terminate');
  }

  /** Stops for good: onStop, then held messages go to dead letters and watchers hear `terminated`. */
  stop(): Promise<boolean> {
    this.#holding = true;
    return this.#control('stop');
  }

  /** Abandons a cell that did not stop within its shutdown time. */
  kill(): void {
    if (this.status === 'stopped') return;
    this.#finalize('normal', 'killed');
  }

  /** Puts a crashed message back at the front of the restart buffer for redelivery. */
  redeliverFirst(delivery: Delivery): void {
    this.#buffer.unshift(delivery);
  }

  /** Registers a watcher; it is told `terminated` when this cell stops for good. */
  addWatcher(watcher: Ref): void {
    this.#watchers.set(`${watcher.node}\u0000${watcher.path}`, watcher);
  }

  removeWatcher(watcher: Ref): void {
    this.#watchers.delete(`${watcher.node}\u0000${watcher.path}`);
  }

  #control(kind: Control['kind']): Promise<boolean> {
    if (this.status === 'stopped') return Promise.resolve(kind === 'stop');
    return new Promise((resolve) => nact.dispatch(this.#nactRef as never, new Control(kind, resolve)));
  }

  /** The nact handler. Never throws: every failure becomes a crash report. */
  #handle(item: Item): void | Promise<void> {
    if (item instanceof Control) return this.#runControl(item);
    this.#queued -= 1;
    if (this.status === 'stopped') {
      // Messages that were already queued when the cell stopped still reach dead letters, then the host goes.
      this.#kernel.undeliverable(item, this.path, 'stopped', new StoppedError(this.path));
      if (this.#queued === 0) nact.stop(this.#nactRef as never);
      return;
    }
    if (this.#holding || this.status !== 'running') return this.#hold(item);
    return this.#process(item);
  }

  #hold(item: Item): void {
    if (this.status === 'stopped') {
      this.#kernel.undeliverable(item, this.path, 'stopped', new StoppedError(this.path));
    } else if (this.#buffer.length >= this.#restartBufferCapacity) {
      this.#kernel.undeliverable(item, this.path, 'restartBufferFull', new MailboxFullError(this.path, this.#restartBufferCapacity));
    } else {
      this.#buffer.push(item);
    }
  }

  #process(item: Item): void | Promise<void> {
    const delivery = item instanceof Delivery ? item : undefined;
    this.#current = delivery;
    this.processed += 1;
    let result: unknown;
    try {
      result = this.behaviour.receive(this.#state, delivery === undefined ? item : delivery.message, this.#context);
    } catch (error) {
      this.#current = undefined;
      return this.#crash(error, item);
    }
    if (isPromise(result)) {
      return result.then(
        (next) => this.#afterMessage(next),
        (error: unknown) => {
          this.#current = undefined;
          return this.#crash(error, item);
        },
      );
    }
    return this.#afterMessage(result);
  }

  #afterMessage(next: unknown): void | Promise<void> {
    this.#state = next;
    this.#current = undefined;
    if (this.#stopRequested) {
      this.#stopRequested = false;
      return this.#exitNormally();
    }
  }

  async #exitNormally(): Promise<void> {
    this.#holding = true;
    await this.#endIncarnation('normal');
    if (this.supervision === undefined) {
      this.#finalize('normal', 'normal');
    } else {
      this.status = 'restarting';
      this.supervision.childExited(this.path);
    }
  }

  async #crash(error: unknown, item: Item | undefined): Promise<void> {
    this.#holding = true;
    this.status = 'restarting';
    const at = this.#kernel.clock.now();
    this.lastError = { message: describeError(error).message, at };
    this.#kernel.emit({ type: 'crashed', node: this.#kernel.node, path: this.path, at, error: this.lastError.message });
    await this.#endIncarnation('crashed');
    const delivery = item === undefined ? undefined : item instanceof Delivery ? item : new Delivery(item, undefined, undefined, undefined, 0);
    if (this.supervision === undefined) {
      if (delivery !== undefined) this.#kernel.failDelivery(delivery, new ActorCrashedError(this.path, error));
      this.#finalize('crashed', 'crashed');
    } else {
      this.supervision.childCrashed(this.path, error, delivery);
    }
  }

  /** onStop, timers and owned children: everything that belongs to one incarnation. */
  async #endIncarnation(reason: StopReason): Promise<void> {
    for (const handle of this.#timers.values()) this.#kernel.clock.clearTimeout(handle);
    this.#timers.clear();
    await this.#kernel.stopOwnedChildren(this);
    if (this.behaviour.onStop === undefined || !this.#initialized) return;
    this.#initialized = false;
    try {
      await this.behaviour.onStop(this.#state, this.#context, reason);
    } catch (error) {
      this.#kernel.reportStopFailure(this.path, error);
    }
  }

  async #runControl(control: Control): Promise<void> {
    switch (control.kind) {
      case 'init':
        return this.#runInit(control);
      case 'terminate':
        if (this.status === 'running' || this.status === 'starting') {
          this.status = 'restarting';
          await this.#endIncarnation('restart');
        }
        control.done(true);
        return;
      case 'stop':
        if (this.status === 'running') await this.#endIncarnation('shutdown');
        if (this.status !== 'stopped') this.#finalize('normal', 'shutdown');
        control.done(true);
        return;
    }
  }

  async #runInit(control: Control): Promise<void> {
    if (this.status === 'stopped') {
      // Killed (shutdown deadline passed) while this start was queued: there is nothing to start.
      control.done(false);
      return;
    }
    assert(this.status !== 'running', 'init of a running cell', { path: this.path });
    const restarting = this.#everStarted;
    this.#everStarted = true;
    if (restarting) {
      this.incarnation += 1;
      this.restarts += 1;
      this.#kernel.countRestart();
    }
    this.status = 'starting';
    try {
      this.#state = await this.behaviour.init(this.#context);
    } catch (error) {
      control.done(false);
      await this.#crash(error, undefined);
      return;
    }
    this.#initialized = true;
    this.status = 'running';
    const at = this.#kernel.clock.now();
    this.#kernel.emit(restarting
      ? { type: 'restarted', node: this.#kernel.node, path: this.path, at, restarts: this.restarts }
      : { type: 'started', node: this.#kernel.node, path: this.path, at });
    control.done(true);
    await this.#drainBuffer();
  }

  /** Delivers held messages to the new incarnation in order, stopping if it crashes again. */
  async #drainBuffer(): Promise<void> {
    this.#holding = false;
    while (this.#buffer.length > 0 && this.status === 'running' && !this.#holding) {
      const item = this.#buffer.shift();
      const result = this.#process(item);
      if (result !== undefined) await result;
    }
  }

  /** The cell is gone for good: unregister, flush held messages, tell watchers. */
  #finalize(watchReason: Terminated['reason'], stopReason: string): void {
    this.status = 'stopped';
    for (const handle of this.#timers.values()) this.#kernel.clock.clearTimeout(handle);
    this.#timers.clear();
    const held = this.#buffer;
    this.#buffer = [];
    for (const item of held) this.#kernel.undeliverable(item, this.path, 'stopped', new StoppedError(this.path));
    if (this.#queued === 0) nact.stop(this.#nactRef as never);
    this.#kernel.unregister(this);
    const terminated: Terminated = { type: 'terminated', ref: this.ref, reason: watchReason };
    for (const watcher of this.#watchers.values()) this.#kernel.tell(watcher, terminated, undefined);
    this.#watchers.clear();
    this.#kernel.emit({ type: 'stopped', node: this.#kernel.node, path: this.path, at: this.#kernel.clock.now(), reason: stopReason });
  }

  #createContext(): ActorContext {
    const cell = this;
    const kernel = this.#kernel;
    const timers: Timers<unknown> = {
      startSingle: (key, message, delayMs) => cell.#startTimer(key, message, delayMs, false),
      startPeriodic: (key, message, intervalMs) => cell.#startTimer(key, message, intervalMs, true),
      cancel: (key) => {
        const handle = cell.#timers.get(key);
        if (handle !== undefined) kernel.clock.clearTimeout(handle);
        cell.#timers.delete(key);
      },
      isActive: (key) => cell.#timers.has(key),
    };
    const context: ActorContext & { [kernelKey]?: KernelServices } = {
      self: this.ref,
      get sender() { return cell.#current?.sender; },
      clock: kernel.clock,
      rng: kernel.rng,
      timers,
      get incarnation() { return cell.incarnation; },
      tell: (target, message) => kernel.tell(target, message, cell.ref),
      ask: (target, message, options) => kernel.ask(target, message, options, cell.ref),
      reply: (value) => {
        const current = cell.#current;
        if (current === undefined || current.replyTo === undefined) return false;
        kernel.reply(current, value, cell.ref);
        return true;
      },
      replier: () => {
        const current = cell.#current;
        return (value: unknown) => { if (current?.replyTo !== undefined) kernel.reply(current, value, cell.ref); };
      },
      watch: (target) => kernel.watch(target, cell.ref),
      unwatch: (target) => kernel.unwatch(target, cell.ref),
      spawn: (behaviour, options) => kernel.spawnOwned(cell, behaviour, options),
      stopSelf: () => { cell.#stopRequested = true; },
      deadLetter: (message, reason) => kernel.deadLetter(message, cell.path, reason),
    };
    Object.defineProperty(context, kernelKey, { value: kernel, enumerable: false });
    Object.defineProperty(context, deliveryKey, { value: () => cell.#current, enumerable: false });
    return context;
  }

  #startTimer(key: string, message: unknown, delayMs: number, periodic: boolean): void {
    const previous = this.#timers.get(key);
    if (previous !== undefined) this.#kernel.clock.clearTimeout(previous);
    const fire = (): void => {
      if (periodic) this.#timers.set(key, this.#kernel.clock.setTimeout(fire, delayMs));
      else this.#timers.delete(key);
      this.enqueue(message);
    };
    this.#timers.set(key, this.#kernel.clock.setTimeout(fire, delayMs));
  }
}
