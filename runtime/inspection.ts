/**
 * What inspectors see: the tree snapshot (DESIGN.md section 2) and one closed union of lifecycle
 * events. The CLI, the HTTP API and the web page all consume exactly these shapes.
 */

/** One actor in the supervision tree, with its children. */
export interface TreeSnapshot {
  readonly node: string;
  readonly path: string;
  readonly kind: 'supervisor' | 'worker';
  readonly behaviour: string;
  readonly status: 'running' | 'restarting' | 'stopped';
  readonly restarts: number;
  readonly lastError?: { readonly message: string; readonly at: number };
  readonly mailbox: { readonly depth: number; readonly processed: number };
  /** Component-specific status (e.g. raft role and term), from `Behaviour.describe`. */
  readonly details?: Record<string, unknown>;
  readonly children: readonly TreeSnapshot[];
}

/** Lifecycle events streamed by `ActorSystem.inspect`. */
export type InspectionEvent =
  | { readonly type: 'started'; readonly node: string; readonly path: string; readonly at: number }
  | { readonly type: 'crashed'; readonly node: string; readonly path: string; readonly at: number; readonly error: string }
  | { readonly type: 'restarting'; readonly node: string; readonly path: string; readonly at: number; readonly delayMs: number }
  | { readonly type: 'restarted'; readonly node: string; readonly path: string; readonly at: number; readonly restarts: number }
  | { readonly type: 'stopped'; readonly node: string; readonly path: string; readonly at: number; readonly reason: string }
  | { readonly type: 'escalated'; readonly node: string; readonly path: string; readonly at: number; readonly error: string }
  | {
    readonly type: 'deadLetter'; readonly node: string; readonly path: string; readonly at: number; readonly reason: string;
    /** Present on a coalesced event: how many dead letters it stands for (their path is then `*`, reason `coalesced`). */
    readonly count?: number;
  };

/** Receives inspection events. Must not throw (a throwing observer is removed). */
export type InspectionObserver = (event: InspectionEvent) => void;

/** Counters for metrics. */
export interface SystemStats {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly deadLetters: number;
  readonly restarts: number;
  readonly actors: number;
  readonly mailboxDepths: ReadonlyArray<{ readonly path: string; readonly depth: number }>;
}
