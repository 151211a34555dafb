/**
 * Runs the real supervisor core (supervisors/core.ts) over a simulated world: child "cells" that start,
 * crash, fail their init, hang in stop; one FIFO mailbox for every supervisor's reports, requests and
 * timer firings; and simulated time. Each supervisor in the tree is its own core instance, nested as
 * in a node. After every event of a schedule the world is compared with the reference model (model.ts)
 * and the core's invariants are checked; the first difference fails the run.
 */
import {
  checkInvariants, createSupervisorCore, live, supervisorStep,
  type CoreChildSpec, type CoreSettings, type StepResult, type SupervisorCoreState, type SupervisorEffect, type SupervisorInput,
} from '../../../supervisors/core.js';
import { Model } from './model.js';
import { dynamicSpec, type NodeSpec, type Observation, type Schedule, type ScheduleEvent, type TreeSpec } from './schedule.js';

/** The core's child spec in the simulation: the schedule's node rides along. */
export type SimSpec = CoreChildSpec & { readonly node: NodeSpec };

/** A step function: the real `supervisorStep`, or a deliberately broken one for the mutant test. */
export type Step = (state: SupervisorCoreState<SimSpec>, input: SupervisorInput<SimSpec>) => StepResult<SimSpec>;

interface SimCell {
  readonly spec: SimSpec;
  readonly path: string;
  running: boolean;
  generation: number;
  starts: number;
  sub: SimSupervisor | undefined;
  redeliver: { attempt: number; poison: boolean } | undefined;
  buffered: { attempt: number; poison: boolean } | undefined;
}

interface SimTimer {
  readonly sup: SimSupervisor;
  readonly group: number;
  readonly due: number;
  readonly seq: number;
}

interface SimSupervisor {
  readonly path: string;
  core: SupervisorCoreState<SimSpec>;
  readonly cells: Map<string, SimCell>;
  alive: boolean;
  readonly parent: { readonly sup: SimSupervisor; readonly id: string } | undefined;
}

type Mail =
  | { readonly kind: 'report'; readonly sup: SimSupervisor; readonly id: string; readonly generation: number; readonly exit: boolean; readonly attempt: number | undefined; readonly poison: boolean }
  | { readonly kind: 'input'; readonly sup: SimSupervisor; readonly input: SupervisorInput<SimSpec> };

class Escalated extends Error {}
class BootFailed extends Error {}

/** A difference between the core and the model, or a broken invariant. */
export class Divergence extends Error {}

/** The real core in a simulated world. */
export class World {
  now = 0;
  dead = false;
  readonly outcomes: string[] = [];
  root: SimSupervisor;
  #r = 0;
  #timerSeq = 0;
  readonly #timers: SimTimer[] = [];
  readonly #mail: Mail[] = [];
  readonly #failInit = new Map<string, number>();
  /** The report being handled, whose delivery a `settleDelivery` effect settles. */
  #current: Extract<Mail, { kind: 'report' }> | undefined;

  constructor(readonly schedule: Schedule, readonly step: Step) {
    this.root = this.#supervisor('/root', schedule.tree, undefined);
    try {
      this.#feed(this.root, { type: 'boot', nowMs: 0 });
    } catch (error) {
      if (!(error instanceof BootFailed)) throw error;
      this.dead = true;
    }
    this.#drain();
  }

  apply(event: ScheduleEvent): void {
    if (this.dead) return;
    if ('r' in event) this.#r = event.r;
    switch (event.type) {
      case 'crash': this.#crash(event.path, event.poison, false); break;
      case 'crashBoth': this.#crash(event.first, false, false); this.#crash(event.second, false, false); break;
      case 'exit': this.#crash(event.path, false, true); break;
      case 'failInit': this.#failInit.set(event.path, (this.#failInit.get(event.path) ?? 0) + event.times); break;
      case 'advance': this.#advance(event.ms); break;
      case 'startChild': this.#mail.push({ kind: 'input', sup: this.root, input: { type: 'startChild', spec: simSpec(dynamicSpec(event)), nowMs: this.now } }); break;
      case 'stopChild': this.#mail.push({ kind: 'input', sup: this.root, input: { type: 'stopChild', id: event.id } }); break;
      case 'crashThenStop':
        this.#mail.push({ kind: 'input', sup: this.root, input: { type: 'stopChild', id: event.id } });
        this.#crash(`/root/${event.id}`, false, false);
        break;
    }
    this.#drain();
  }

  observe(): Observation {
    const supervisors: Record<string, Array<{ id: string; status: 'running' | 'pending'; starts: number }>> = {};
    const visit = (sup: SimSupervisor): void => {
      supervisors[sup.path] = sup.core.children.map((child) => {
        const cell = sup.cells.get(child.spec.id);
        const status = cell?.running ? 'running' : child.group !== undefined ? 'pending' : ('lost' as 'pending');
        return { id: child.spec.id, status, starts: cell?.starts ?? 0 };
      });
      for (const cell of sup.cells.values()) if (cell.sub?.alive) visit(cell.sub);
    };
    if (!this.dead) visit(this.root);
    return { dead: this.dead, supervisors, outcomes: [...this.outcomes] };
  }

  /** The core's invariants, and: every pending restart group has a timer that will fire. */
  checkInvariants(): void {
    const visit = (sup: SimSupervisor): void => {
      checkInvariants(sup.core);
      for (const group of sup.core.groups.values()) {
        if (group.phase === 'waiting' && !this.#timers.some((timer) => timer.sup === sup && timer.group === group.id)) {
          throw new Divergence(`${sup.path}: restart group ${group.id} (${group.ids.join(',')}) is waiting with no timer: it will never restart`);
        }
      }
      if (live(sup.core)) {
        for (const child of sup.core.children) {
          const cell = sup.cells.get(child.spec.id);
          if (child.spec.restart === 'permanent' && !cell?.running && child.group === undefined) {
            throw new Divergence(`${sup.path}/${child.spec.id}: permanent child is neither running nor scheduled to restart`);
          }
        }
      }
      for (const cell of sup.cells.values()) if (cell.sub?.alive) visit(cell.sub);
    };
    if (!this.dead) visit(this.root);
  }

  #supervisor(path: string, tree: TreeSpec, parent: SimSupervisor['parent']): SimSupervisor {
    const settings: CoreSettings = { strategy: tree.strategy, intensity: { maxRestarts: tree.maxRestarts, periodMs: tree.periodMs }, backoff: tree.backoff, childrenMax: 100 };
    return { path, core: createSupervisorCore(path, settings, tree.children.map(simSpec)), cells: new Map(), alive: true, parent };
  }

  #find(path: string): { sup: SimSupervisor; cell: SimCell } | undefined {
    const visit = (sup: SimSupervisor): { sup: SimSupervisor; cell: SimCell } | undefined => {
      for (const cell of sup.cells.values()) {
        if (cell.path === path) return { sup, cell };
        if (cell.sub?.alive && path.startsWith(`${cell.path}/`)) return visit(cell.sub);
      }
      return undefined;
    };
    return this.root.alive ? visit(this.root) : undefined;
  }

  #crash(path: string, poison: boolean, exit: boolean): void {
    const found = this.#find(path);
    if (found === undefined || !found.cell.running) return;
    const { sup, cell } = found;
    if (cell.sub !== undefined) {
      if (exit) return;
      this.#shutdown(cell.sub);
    }
    cell.running = false;
    this.#mail.push({ kind: 'report', sup, id: cell.spec.id, generation: cell.generation, exit, attempt: exit ? undefined : 0, poison });
  }

  #drain(): void {
    while (this.#mail.length > 0 && !this.dead) {
      const mail = this.#mail.shift()!;
      if (!mail.sup.alive) continue; // a stopped supervisor's mailbox: its next incarnation refuses these
      const nowMs = this.now;
      const random = this.#r;
      const input: SupervisorInput<SimSpec> = mail.kind === 'input' ? mail.input
        : mail.exit ? { type: 'exited', id: mail.id, generation: mail.generation, nowMs, random }
          : { type: 'crashed', id: mail.id, generation: mail.generation, error: { message: 'crash' }, attempt: mail.attempt, nowMs, random };
      this.#current = mail.kind === 'report' ? mail : undefined;
      try {
        this.#feed(mail.sup, input);
      } catch (error) {
        if (!(error instanceof Escalated)) throw error;
        this.#escalated(mail.sup);
      }
      this.#current = undefined;
    }
  }

  #escalated(sup: SimSupervisor): void {
    this.#shutdown(sup);
    if (sup.parent === undefined) {
      this.dead = true;
      return;
    }
    const entry = sup.parent.sup.cells.get(sup.parent.id);
    if (entry === undefined || !entry.running || entry.sub !== sup) return;
    entry.running = false;
    this.#mail.push({ kind: 'report', sup: sup.parent.sup, id: sup.parent.id, generation: entry.generation, exit: false, attempt: 0, poison: false });
  }

  /** A supervisor stops (its onStop): the core shuts its children down. */
  #shutdown(sup: SimSupervisor): void {
    if (!sup.alive) return;
    this.#feed(sup, { type: 'shutdown' });
    sup.alive = false;
    for (let index = this.#timers.length - 1; index >= 0; index -= 1) if (this.#timers[index]!.sup === sup) this.#timers.splice(index, 1);
  }

  #feed(sup: SimSupervisor, input: SupervisorInput<SimSpec>): void {
    const result = this.step(sup.core, input);
    sup.core = result.state;
    for (const effect of result.effects) this.#execute(sup, effect);
  }

  #execute(sup: SimSupervisor, effect: SupervisorEffect<SimSpec>): void {
    switch (effect.type) {
      case 'start': return this.#start(sup, effect);
      case 'stop': {
        const cell = sup.cells.get(effect.id);
        let hung = false;
        if (cell !== undefined && cell.running) {
          if (cell.sub !== undefined) this.#shutdown(cell.sub);
          cell.running = false;
          hung = cell.spec.node.hangOnStop === true;
        }
        this.#feed(sup, { type: hung ? 'stopTimedOut' : 'stopFinished', id: effect.id, mode: effect.mode });
        return;
      }
      case 'kill': {
        const cell = sup.cells.get(effect.id);
        if (cell !== undefined) cell.buffered = undefined;
        return;
      }
      case 'forget': sup.cells.delete(effect.id); return;
      case 'setTimer':
        this.#cancel(sup, effect.group);
        this.#timers.push({ sup, group: effect.group, due: this.now + effect.delayMs, seq: ++this.#timerSeq });
        return;
      case 'cancelTimer': this.#cancel(sup, effect.group); return;
      case 'settleDelivery': {
        const current = this.#current;
        if (current === undefined || current.attempt === undefined) return;
        this.outcomes.push(`${sup.path}/${effect.id}:${effect.outcome}`);
        const cell = sup.cells.get(effect.id);
        if (effect.outcome === 'redeliver' && cell !== undefined) cell.redeliver = { attempt: current.attempt + 1, poison: current.poison };
        return;
      }
      case 'dropRedelivery': {
        const cell = sup.cells.get(effect.id);
        if (cell !== undefined) cell.redeliver = undefined;
        return;
      }
      case 'escalate': throw new Escalated(sup.path);
      case 'bootFailed': throw new BootFailed(sup.path);
      default: return; // replies, dead letters, inspection events and log lines change no state here
    }
  }

  #cancel(sup: SimSupervisor, group: number): void {
    const index = this.#timers.findIndex((timer) => timer.sup === sup && timer.group === group);
    if (index >= 0) this.#timers.splice(index, 1);
  }

  #start(sup: SimSupervisor, effect: Extract<SupervisorEffect<SimSpec>, { type: 'start' }>): void {
    const path = `${sup.path}/${effect.spec.id}`;
    let cell = sup.cells.get(effect.spec.id);
    if (cell === undefined) {
      cell = { spec: effect.spec, path, running: false, generation: 0, starts: 0, sub: undefined, redeliver: undefined, buffered: undefined };
      sup.cells.set(effect.spec.id, cell);
    }
    cell.generation = effect.generation;
    if (effect.redeliver && cell.redeliver !== undefined) cell.buffered = cell.redeliver;
    cell.redeliver = undefined;
    cell.starts += 1;
    let ok = true;
    const failures = this.#failInit.get(path) ?? 0;
    if (failures > 0) {
      this.#failInit.set(path, failures - 1);
      ok = false;
    } else if (effect.spec.kind === 'supervisor') {
      const sub = this.#supervisor(path, effect.spec.node.tree!, { sup, id: effect.spec.id });
      try {
        this.#feed(sub, { type: 'boot', nowMs: this.now });
        cell.sub = sub;
      } catch (error) {
        if (!(error instanceof BootFailed)) throw error;
        sub.alive = false;
        ok = false;
      }
    }
    if (!ok) {
      // The kernel also reports the failed init as a crash, later: the core must ignore it.
      this.#mail.push({ kind: 'report', sup, id: effect.spec.id, generation: effect.generation, exit: false, attempt: undefined, poison: false });
    } else {
      cell.running = true;
      const buffered = cell.buffered;
      cell.buffered = undefined;
      if (buffered !== undefined && buffered.poison) {
        cell.running = false;
        this.#mail.push({ kind: 'report', sup, id: effect.spec.id, generation: effect.generation, exit: false, attempt: buffered.attempt, poison: true });
      }
    }
    this.#feed(sup, ok
      ? { type: 'started', id: effect.spec.id, generation: effect.generation, ok: true, nowMs: this.now, random: this.#r }
      : { type: 'started', id: effect.spec.id, generation: effect.generation, ok: false, error: { message: 'init failed' }, nowMs: this.now, random: this.#r });
  }

  #advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: SimTimer | undefined;
      for (const timer of this.#timers) {
        if (timer.due <= target && (next === undefined || timer.due < next.due || (timer.due === next.due && timer.seq < next.seq))) next = timer;
      }
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.now = next.due;
      this.#mail.push({ kind: 'input', sup: next.sup, input: { type: 'restartDue', group: next.group, nowMs: this.now } });
      this.#drain();
      if (this.dead) return;
    }
    this.now = target;
  }
}

function simSpec(node: NodeSpec): SimSpec {
  return { id: node.id, restart: node.restart, kind: node.kind, shutdownMs: 100, ...(node.retry !== undefined ? { retry: { maxAttempts: node.retry } } : {}), node };
}

/** Runs one schedule against model and core; returns the failure message, or undefined if they agree throughout. */
export function checkSchedule(schedule: Schedule, step: Step = supervisorStep): string | undefined {
  try {
    const model = new Model(schedule);
    const world = new World(schedule, step);
    compare(model.observe(), world.observe(), 'after start');
    world.checkInvariants();
    schedule.events.forEach((event, index) => {
      model.apply(event);
      world.apply(event);
      compare(model.observe(), world.observe(), `after event ${index} ${JSON.stringify(event)}`);
      world.checkInvariants();
    });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function compare(expected: Observation, actual: Observation, where: string): void {
  const left = JSON.stringify(expected);
  const right = JSON.stringify(actual);
  if (left !== right) throw new Divergence(`${where}:\n  model ${left}\n  core  ${right}`);
}

/** Removes events while the schedule still fails, to show a short counterexample. */
export function shrink(schedule: Schedule, step: Step = supervisorStep, runsMax = 2000): Schedule {
  let current = schedule;
  let runs = 0;
  let changed = true;
  while (changed && runs < runsMax) {
    changed = false;
    for (let index = current.events.length - 1; index >= 0 && runs < runsMax; index -= 1) {
      const candidate = { tree: current.tree, events: current.events.filter((_, at) => at !== index) };
      runs += 1;
      if (checkSchedule(candidate, step) !== undefined) {
        current = candidate;
        changed = true;
      }
    }
  }
  return current;
}
