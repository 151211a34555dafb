/**
 * A reference model of OTP supervision, written to be read rather than to be fast: a tree of
 * supervisors over simulated time, each with its children in spec order, its window of restarts, and
 * its pending restart groups. It shares no code with supervisors/core.ts (the backoff formula is
 * written out again below). One mailbox (FIFO) holds reports and requests in arrival order.
 *
 * The rules, as in Erlang/OTP's `supervisor` (and DESIGN.md section 2):
 *  - permanent restarts always, transient after a crash, temporary never;
 *  - one_for_one / one_for_all / rest_for_one choose who restarts with the crashed child; siblings
 *    stop in reverse order, temporary siblings are removed; the group starts in spec order;
 *  - more than maxRestarts restart decisions within periodMs: the supervisor stops all its children
 *    in reverse and crashes into its parent (the root's escalation ends the node);
 *  - the n-th restart of a child within periodMs waits min(maxMs, minMs * 2^(n-1)) * (1 + jitter * r);
 *  - a crashing message is redelivered while its attempt < retry.maxAttempts and the child restarts,
 *    else settled as `poison` (retry given) or `crashed`; a report about an incarnation that is no
 *    longer current changes nothing (its message is settled `crashed`);
 *  - a child whose init fails during a restart counts as crashed again; during its supervisor's own
 *    start it fails that start; a dynamic child whose init fails is removed.
 */
import { dynamicSpec, type NodeSpec, type Observation, type Schedule, type ScheduleEvent, type TreeSpec } from './schedule.js';

type Status = 'running' | 'crashed' | 'pending';

interface Child {
  readonly spec: NodeSpec;
  readonly path: string;
  status: Status;
  starts: number;
  window: number[];
  /** A crashing message to redeliver at the next start, and whether it crashes every delivery. */
  redeliver: { attempt: number; poison: boolean } | undefined;
  /** A redelivered message held by the child's mailbox until an incarnation runs. */
  buffered: { attempt: number; poison: boolean } | undefined;
  sub: Supervisor | undefined;
  group: Group | undefined;
}

interface Group {
  due: number;
  seq: number;
  readonly members: Child[];
}

interface Supervisor {
  readonly path: string;
  readonly tree: TreeSpec;
  readonly children: Child[];
  window: number[];
  readonly groups: Group[];
  alive: boolean;
  readonly parent: Supervisor | undefined;
}

type Mail =
  | { readonly kind: 'report'; readonly sup: Supervisor; readonly child: Child; readonly starts: number; readonly exit: boolean; readonly attempt: number | undefined; readonly poison: boolean }
  | { readonly kind: 'stop'; readonly sup: Supervisor; readonly id: string };

/** The model running one schedule. */
export class Model {
  now = 0;
  dead = false;
  readonly outcomes: string[] = [];
  readonly root: Supervisor;
  #r = 0;
  #timerSeq = 0;
  readonly #mail: Mail[] = [];
  readonly #failInit = new Map<string, number>();

  constructor(readonly schedule: Schedule) {
    this.root = this.#supervisor('/root', schedule.tree, undefined);
    if (!this.#boot(this.root)) this.dead = true;
    this.#drain();
  }

  /** Applies one event and everything it sets off. */
  apply(event: ScheduleEvent): void {
    if (this.dead) return;
    if ('r' in event) this.#r = event.r;
    switch (event.type) {
      case 'crash': this.#crash(event.path, event.poison, false); break;
      case 'crashBoth': this.#crash(event.first, false, false); this.#crash(event.second, false, false); break;
      case 'exit': this.#crash(event.path, false, true); break;
      case 'failInit': this.#failInit.set(event.path, (this.#failInit.get(event.path) ?? 0) + event.times); break;
      case 'advance': this.#advance(event.ms); break;
      case 'startChild': this.#startDynamic(dynamicSpec(event)); break;
      case 'stopChild': this.#mail.push({ kind: 'stop', sup: this.root, id: event.id }); break;
      case 'crashThenStop':
        this.#mail.push({ kind: 'stop', sup: this.root, id: event.id });
        this.#crash(`/root/${event.id}`, false, false);
        break;
    }
    this.#drain();
  }

  /** What the model says the tree looks like now. */
  observe(): Observation {
    const supervisors: Record<string, Array<{ id: string; status: 'running' | 'pending'; starts: number }>> = {};
    const visit = (sup: Supervisor): void => {
      supervisors[sup.path] = sup.children.map((child) => ({ id: child.spec.id, status: child.status === 'running' ? 'running' : 'pending', starts: child.starts }));
      for (const child of sup.children) if (child.sub !== undefined && child.sub.alive) visit(child.sub);
    };
    if (!this.dead) visit(this.root);
    return { dead: this.dead, supervisors, outcomes: [...this.outcomes] };
  }

  #supervisor(path: string, tree: TreeSpec, parent: Supervisor | undefined): Supervisor {
    const sup: Supervisor = { path, tree, children: [], window: [], groups: [], alive: true, parent };
    for (const spec of tree.children) sup.children.push(this.#child(sup, spec));
    return sup;
  }

  #child(sup: Supervisor, spec: NodeSpec): Child {
    return { spec, path: `${sup.path}/${spec.id}`, status: 'pending', starts: 0, window: [], redeliver: undefined, buffered: undefined, sub: undefined, group: undefined };
  }

  #find(path: string): { sup: Supervisor; child: Child } | undefined {
    const visit = (sup: Supervisor): { sup: Supervisor; child: Child } | undefined => {
      for (const child of sup.children) {
        if (child.path === path) return { sup, child };
        if (child.sub?.alive && path.startsWith(`${child.path}/`)) return visit(child.sub);
      }
      return undefined;
    };
    return this.root.alive ? visit(this.root) : undefined;
  }

  /** The child at `path` crashes (or exits) while running: its report joins the mailbox. */
  #crash(path: string, poison: boolean, exit: boolean): void {
    const found = this.#find(path);
    if (found === undefined || found.child.status !== 'running') return;
    const { sup, child } = found;
    if (child.sub !== undefined) {
      if (exit) return; // a supervisor does not exit on request in these schedules
      this.#stopAll(child.sub);
    }
    child.status = 'crashed';
    this.#mail.push({ kind: 'report', sup, child, starts: child.starts, exit, attempt: exit ? undefined : 0, poison });
  }

  #drain(): void {
    while (this.#mail.length > 0 && !this.dead) {
      const mail = this.#mail.shift()!;
      if (!mail.sup.alive) continue;
      if (mail.kind === 'stop') {
        const child = mail.sup.children.find((each) => each.spec.id === mail.id);
        if (child !== undefined) this.#remove(mail.sup, child);
        continue;
      }
      const { sup, child } = mail;
      const current = sup.children.includes(child) && child.status === 'crashed' && child.starts === mail.starts;
      if (!current) {
        if (mail.attempt !== undefined) this.outcomes.push(`${child.path}:crashed`);
        continue;
      }
      this.#decide(sup, child, mail.exit ? undefined : { attempt: mail.attempt, poison: mail.poison });
    }
  }

  /** A child is down: restart it (and its group) or not, or escalate. */
  #decide(sup: Supervisor, child: Child, crash: { attempt: number | undefined; poison: boolean } | undefined): void {
    const restart = child.spec.restart === 'permanent' || (child.spec.restart === 'transient' && crash !== undefined);
    if (crash !== undefined && crash.attempt !== undefined) {
      const retry = child.spec.retry;
      if (retry !== undefined && restart && crash.attempt < retry) {
        child.redeliver = { attempt: crash.attempt + 1, poison: crash.poison };
        this.outcomes.push(`${child.path}:redeliver`);
      } else {
        this.outcomes.push(`${child.path}:${retry === undefined ? 'crashed' : 'poison'}`);
      }
    }
    if (!restart) {
      this.#remove(sup, child);
      return;
    }
    sup.window = sup.window.filter((at) => this.now - at < sup.tree.periodMs);
    sup.window.push(this.now);
    if (sup.window.length > sup.tree.maxRestarts) {
      this.#escalate(sup);
      return;
    }
    const index = sup.children.indexOf(child);
    const affected = sup.tree.strategy === 'one_for_one' ? [child] : sup.tree.strategy === 'one_for_all' ? [...sup.children] : sup.children.slice(index);
    for (const sibling of [...affected].reverse()) {
      if (sibling === child) continue;
      if (sibling.spec.restart === 'temporary') this.#remove(sup, sibling);
      else if (sibling.sub !== undefined && sibling.status === 'running') this.#stopAll(sibling.sub);
    }
    child.window = child.window.filter((at) => this.now - at < sup.tree.periodMs);
    child.window.push(this.now);
    const delay = delayMs(child.window.length - 1, sup.tree.backoff, this.#r);
    const members = affected.filter((each) => each === child || each.spec.restart !== 'temporary');
    for (const member of members) this.#leaveGroup(sup, member);
    const group: Group = { due: this.now + delay, seq: 0, members };
    for (const member of members) {
      member.status = 'pending';
      member.group = group;
    }
    sup.groups.push(group);
    if (delay === 0) this.#startGroup(sup, group);
    else group.seq = ++this.#timerSeq;
  }

  #leaveGroup(sup: Supervisor, child: Child): void {
    const group = child.group;
    child.group = undefined;
    if (group === undefined) return;
    group.members.splice(group.members.indexOf(child), 1);
    if (group.members.length === 0) sup.groups.splice(sup.groups.indexOf(group), 1);
  }

  #startGroup(sup: Supervisor, group: Group): void {
    sup.groups.splice(sup.groups.indexOf(group), 1);
    const members = [...group.members];
    for (const member of members) member.group = undefined;
    for (const member of members) {
      if (member.status !== 'pending' || !sup.children.includes(member)) continue;
      if (!this.#start(sup, member)) {
        // The failed start is a crash of that child; the new decision covers the rest of the group.
        member.status = 'crashed';
        this.#decide(sup, member, { attempt: undefined, poison: false });
        return;
      }
    }
  }

  /** Starts one child; false if its init (or its subtree's start) failed. */
  #start(sup: Supervisor, child: Child): boolean {
    child.starts += 1;
    if (child.redeliver !== undefined) child.buffered = child.redeliver;
    child.redeliver = undefined;
    const failures = this.#failInit.get(child.path) ?? 0;
    if (failures > 0) {
      this.#failInit.set(child.path, failures - 1);
      return false;
    }
    if (child.spec.kind === 'supervisor') {
      const sub = this.#supervisor(child.path, child.spec.tree!, sup);
      if (!this.#boot(sub)) return false;
      child.sub = sub;
    }
    child.status = 'running';
    const buffered = child.buffered;
    child.buffered = undefined;
    if (buffered !== undefined && buffered.poison) {
      child.status = 'crashed';
      this.#mail.push({ kind: 'report', sup, child, starts: child.starts, exit: false, attempt: buffered.attempt, poison: true });
    }
    return true;
  }

  /** A supervisor's own start: its children in order; one failing init stops the started ones in reverse. */
  #boot(sup: Supervisor): boolean {
    for (const child of [...sup.children]) {
      if (!this.#start(sup, child)) {
        sup.children.splice(sup.children.indexOf(child), 1);
        this.#stopAll(sup);
        return false;
      }
    }
    return true;
  }

  #startDynamic(spec: NodeSpec): void {
    if (this.root.children.some((child) => child.spec.id === spec.id)) return;
    const child = this.#child(this.root, spec);
    this.root.children.push(child);
    if (!this.#start(this.root, child)) this.root.children.splice(this.root.children.indexOf(child), 1);
  }

  #remove(sup: Supervisor, child: Child): void {
    const index = sup.children.indexOf(child);
    if (index < 0) return;
    this.#leaveGroup(sup, child);
    sup.children.splice(index, 1);
    if (child.sub !== undefined && child.status === 'running') this.#stopAll(child.sub);
  }

  /** A supervisor stops: pending restarts go, children stop in reverse. */
  #stopAll(sup: Supervisor): void {
    sup.alive = false;
    sup.groups.length = 0;
    for (const child of [...sup.children].reverse()) {
      child.group = undefined;
      if (child.sub !== undefined && child.status === 'running') this.#stopAll(child.sub);
    }
    sup.children.length = 0;
  }

  #escalate(sup: Supervisor): void {
    this.#stopAll(sup);
    if (sup.parent === undefined) {
      this.dead = true;
      return;
    }
    const entry = sup.parent.children.find((child) => child.sub === sup);
    if (entry === undefined || entry.status !== 'running') return;
    entry.status = 'crashed';
    this.#mail.push({ kind: 'report', sup: sup.parent, child: entry, starts: entry.starts, exit: false, attempt: 0, poison: false });
  }

  #advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: { sup: Supervisor; group: Group } | undefined;
      const visit = (sup: Supervisor): void => {
        for (const group of sup.groups) {
          if (group.due <= target && (next === undefined || group.due < next.group.due || (group.due === next.group.due && group.seq < next.group.seq))) next = { sup, group };
        }
        for (const child of sup.children) if (child.sub?.alive) visit(child.sub);
      };
      if (this.root.alive) visit(this.root);
      if (next === undefined) break;
      this.now = next.group.due;
      this.#startGroup(next.sup, next.group);
      this.#drain();
      if (this.dead) return;
    }
    this.now = target;
  }
}

/** The backoff delay, written out from its definition. */
function delayMs(attempt: number, backoff: TreeSpec['backoff'], r: number): number {
  if (backoff.minMs <= 0) return 0;
  const base = Math.min(backoff.maxMs, backoff.minMs * Math.pow(2, Math.min(attempt, 30)));
  return Math.round(base * (1 + backoff.jitter * r));
}
