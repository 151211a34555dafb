/**
 * A node: an actor system with a root supervisor at `/root` that a service adds its own children to.
 * When the root supervisor itself fails (restart intensity exceeded below it), the node stops cleanly
 * and reports a non-zero exit code (OTP: the application's top supervisor dying takes the node down).
 */
import { ActorSystem, TroupeError, describeError, type ActorSystemOptions, type Clock, type Ref, type SupervisionHook, type TreeSnapshot } from '../runtime/index.js';
import type { ChildSpec } from './child-spec.js';
import { EscalationError, supervisor, type Strategy, type SupervisorReply } from './supervisor.js';
import type { Backoff } from './restart-policy.js';

/** Options for `createNode`. */
export interface NodeOptions {
  readonly name?: string;
  readonly clock?: Clock;
  readonly seed?: number;
  /** Root supervisor configuration. */
  readonly strategy?: Strategy;
  readonly maxRestarts?: number;
  readonly periodMs?: number;
  readonly backoff?: Partial<Backoff>;
  /** Children started, in order, before `createNode` resolves. */
  readonly children?: readonly ChildSpec[];
  /** Called once the node has stopped because its root supervisor failed. Defaults to setting process.exitCode = 1. */
  readonly onFatal?: (error: unknown) => void;
  readonly system?: Omit<ActorSystemOptions, 'node' | 'clock' | 'seed'>;
}

/** How a node ended. */
export interface NodeTermination {
  readonly exitCode: number;
  readonly reason: 'stopped' | 'fatal';
  /** Why a fatal stop happened, in one line: which child failed, with which error, through which supervisors. */
  readonly error?: string;
  /** For a fatal stop after escalation: the supervisors that escalated, innermost first, and the child that began it. */
  readonly chain?: readonly string[];
  readonly child?: string;
}

/** A running node. */
export interface TroupeNode {
  readonly name: string;
  readonly system: ActorSystem;
  /** The root supervisor. */
  readonly root: Ref;
  /** Starts a child under the root supervisor; rejects with a typed error if its spec or init fails. */
  startChild(spec: ChildSpec): Promise<Ref>;
  /** Stops and removes a child of the root supervisor. */
  stopChild(id: string): Promise<void>;
  tree(): TreeSnapshot;
  /** Stops every actor in reverse start order. */
  stop(): Promise<void>;
  /** Resolves when the node has stopped, with its exit code. */
  readonly terminated: Promise<NodeTermination>;
}

const rootPath = '/root';

/** Starts a node with a root supervisor; resolves once the initial children are running. */
export async function createNode(options: NodeOptions = {}): Promise<TroupeNode> {
  const system = new ActorSystem({
    ...options.system,
    node: options.name ?? 'local',
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  let finish: (termination: NodeTermination) => void = () => {};
  const terminated = new Promise<NodeTermination>((resolve) => { finish = resolve; });
  let stopping: Promise<void> | undefined;
  const stopWith = (termination: NodeTermination): Promise<void> => {
    stopping ??= system.stop().then(() => finish(termination));
    return stopping;
  };
  const fatal: SupervisionHook = {
    childCrashed: (_path, error) => {
      const termination = fatalTermination(error);
      system.emit({ type: 'escalated', node: system.node, path: rootPath, at: system.clock.now(), error: describeError(error).message });
      system.log.fatal('node.stopping', { reason: termination.error, ...(termination.chain ? { chain: termination.chain, child: termination.child } : {}) });
      void stopWith(termination).then(() => (options.onFatal ?? defaultOnFatal)(error));
    },
    childExited: () => { void stopWith({ exitCode: 0, reason: 'stopped' }); },
  };
  const rootBehaviour = supervisor({
    name: 'root',
    strategy: options.strategy ?? 'one_for_one',
    ...(options.maxRestarts !== undefined ? { maxRestarts: options.maxRestarts } : {}),
    ...(options.periodMs !== undefined ? { periodMs: options.periodMs } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    children: options.children ?? [],
  });
  const rootCell = system.createCell(rootBehaviour, { path: rootPath, kind: 'supervisor', supervision: fatal });
  if (!(await rootCell.start())) {
    const message = rootCell.lastError?.message ?? 'root supervisor failed to start';
    await stopWith({ exitCode: 1, reason: 'fatal', error: message });
    throw new TroupeError('START_FAILED', `node failed to start: ${message}`);
  }
  const root = rootCell.ref;
  return {
    name: system.node,
    system,
    root,
    async startChild(spec) {
      const reply = await system.ask<SupervisorReply>(root, { type: 'supervisor.startChild', spec }, { timeoutMs: spec.shutdownMs + 60_000 });
      if (!reply.ok) throw new TroupeError(reply.code, reply.message, { context: { id: spec.id } });
      return reply.ref ?? { node: system.node, path: `${rootPath}/${spec.id}` };
    },
    async stopChild(id) {
      const reply = await system.ask<SupervisorReply>(root, { type: 'supervisor.stopChild', id }, { timeoutMs: 120_000 });
      if (!reply.ok) throw new TroupeError(reply.code, reply.message, { context: { id } });
    },
    tree: () => system.tree(),
    stop: () => stopWith({ exitCode: 0, reason: 'stopped' }),
    terminated,
  };
}

/** The termination of a node whose root supervisor failed, naming the child and error that began it. */
function fatalTermination(error: unknown): NodeTermination {
  if (!(error instanceof EscalationError)) return { exitCode: 1, reason: 'fatal', error: describeError(error).message };
  const text = `${error.chain.join(' -> ')} exceeded restart intensity after ${error.origin.path} failed: ${error.origin.message}`;
  return { exitCode: 1, reason: 'fatal', error: text, chain: error.chain, child: error.origin.path };
}

function defaultOnFatal(error: unknown): void {
  process.stderr.write(`troupe: root supervisor failed, node stopped: ${fatalTermination(error).error ?? describeError(error).message}\n`);
  process.exitCode = 1;
}
