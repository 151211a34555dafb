/**
 * What a supervision schedule is made of, shared by the reference model, the harness around the real
 * core and the generator: a supervision tree and a list of events (crashes, exits, time, failing
 * inits, dynamic children). Paths are absolute (`/root/a`, `/root/s1/b`).
 */
import type { Rng } from '../../../runtime/rng.js';

/** A supervisor's configuration in a schedule. */
export interface TreeSpec {
  readonly strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one';
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly backoff: { readonly minMs: number; readonly maxMs: number; readonly jitter: number };
  readonly children: readonly NodeSpec[];
}

/** One child in a schedule's tree. */
export interface NodeSpec {
  readonly id: string;
  readonly restart: 'permanent' | 'transient' | 'temporary';
  /** `retry.maxAttempts` of the spec, if any. */
  readonly retry?: number;
  readonly kind: 'worker' | 'supervisor';
  readonly tree?: TreeSpec;
  /** Its stop never finishes, so it is killed after shutdownMs. */
  readonly hangOnStop?: boolean;
}

/** One event of a schedule; `r` is the jitter draw every decision during the event uses. */
export type ScheduleEvent =
  | { readonly type: 'crash'; readonly path: string; readonly poison: boolean; readonly r: number }
  | { readonly type: 'crashBoth'; readonly first: string; readonly second: string; readonly r: number }
  | { readonly type: 'exit'; readonly path: string; readonly r: number }
  | { readonly type: 'advance'; readonly ms: number; readonly r: number }
  | { readonly type: 'failInit'; readonly path: string; readonly times: number }
  | { readonly type: 'startChild'; readonly id: string; readonly restart: NodeSpec['restart']; readonly r: number }
  | { readonly type: 'stopChild'; readonly id: string; readonly r: number }
  | { readonly type: 'crashThenStop'; readonly id: string; readonly r: number };

/** A tree and its events. */
export interface Schedule {
  readonly tree: TreeSpec;
  readonly events: readonly ScheduleEvent[];
}

/** What a run observes after each event, compared between model and core. */
export interface Observation {
  readonly dead: boolean;
  /** Per live supervisor path: its children in order with status and number of starts. */
  readonly supervisors: Record<string, ReadonlyArray<{ readonly id: string; readonly status: 'running' | 'pending'; readonly starts: number }>>;
  /** How each crashing message was settled, in order. */
  readonly outcomes: readonly string[];
}

const restartTypes = ['permanent', 'transient', 'temporary'] as const;
const strategies = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)]!;
}

function treeSpec(rng: Rng, depth: number, prefix: string): TreeSpec {
  const count = rng.int(1, depth === 0 ? 5 : 4);
  const children: NodeSpec[] = [];
  for (let index = 0; index < count; index += 1) {
    const nested = depth === 0 && rng.next() < 0.3;
    const id = `${nested ? 's' : prefix}${index}`;
    children.push({
      id,
      restart: nested ? pick(rng, ['permanent', 'permanent', 'transient'] as const) : pick(rng, restartTypes),
      kind: nested ? 'supervisor' : 'worker',
      ...(nested ? { tree: treeSpec(rng, depth + 1, 'w') } : {}),
      ...(!nested && rng.next() < 0.3 ? { retry: rng.int(0, 3) } : {}),
      ...(rng.next() < 0.1 ? { hangOnStop: true } : {}),
    });
  }
  const minMs = rng.next() < 0.3 ? 0 : rng.int(1, 50);
  return {
    strategy: pick(rng, strategies),
    maxRestarts: rng.int(0, depth === 0 ? 8 : 4),
    periodMs: rng.int(50, 2000),
    backoff: { minMs, maxMs: minMs + rng.int(0, 500), jitter: rng.next() < 0.5 ? 0 : rng.next() * 0.5 },
    children,
  };
}

function paths(tree: TreeSpec, base: string): string[] {
  return tree.children.flatMap((child) => [`${base}/${child.id}`, ...(child.tree ? paths(child.tree, `${base}/${child.id}`) : [])]);
}

/** A random schedule: a tree of up to two levels and 10-60 events. */
export function generateSchedule(rng: Rng): Schedule {
  const tree = treeSpec(rng, 0, 'a');
  const all = [...paths(tree, '/root'), '/root/d0', '/root/d1'];
  const rootIds = [...tree.children.map((child) => child.id), 'd0', 'd1'];
  const events: ScheduleEvent[] = [];
  const count = rng.int(10, 60);
  for (let index = 0; index < count; index += 1) {
    const roll = rng.next();
    const r = rng.next();
    if (roll < 0.3) events.push({ type: 'crash', path: pick(rng, all), poison: rng.next() < 0.3, r });
    else if (roll < 0.38) events.push({ type: 'crashBoth', first: pick(rng, all), second: pick(rng, all), r });
    else if (roll < 0.45) events.push({ type: 'exit', path: pick(rng, all), r });
    else if (roll < 0.7) events.push({ type: 'advance', ms: rng.next() < 0.1 ? rng.int(1000, 5000) : rng.int(0, 120), r });
    else if (roll < 0.8) events.push({ type: 'failInit', path: pick(rng, all), times: rng.int(1, 3) });
    else if (roll < 0.87) events.push({ type: 'startChild', id: pick(rng, ['d0', 'd1']), restart: pick(rng, restartTypes), r });
    else if (roll < 0.93) events.push({ type: 'stopChild', id: pick(rng, rootIds), r });
    else events.push({ type: 'crashThenStop', id: pick(rng, rootIds), r });
  }
  return { tree, events };
}

/** The spec of a dynamic child started by a `startChild` event. */
export function dynamicSpec(event: Extract<ScheduleEvent, { type: 'startChild' }>): NodeSpec {
  return { id: event.id, restart: event.restart, kind: 'worker' };
}
