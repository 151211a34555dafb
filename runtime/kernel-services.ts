/**
 * What a cell needs from its system. Kept as an interface so the cell does not depend on the whole
 * `ActorSystem` class (and to keep the two files readable on their own).
 */
import type { AnyBehaviour, AskOptions, SpawnOptions } from './behaviour.js';
import type { Cell, Delivery } from './cell.js';
import type { Clock } from './clock.js';
import type { InspectionEvent } from './inspection.js';
import type { Ref } from './ref.js';
import type { Rng } from './rng.js';
import type { Logger } from './log.js';
import type { TroupeError } from './errors.js';
import type { CellSpawnOptions } from './system.js';

/** The kernel operations a cell calls. */
export interface KernelServices {
  readonly node: string;
  readonly clock: Clock;
  readonly rng: Rng;
  /** The node's structured log. */
  readonly log: Logger;
  tell(target: Ref, message: unknown, sender: Ref | undefined): void;
  ask<Reply>(target: Ref, message: unknown, options: AskOptions | undefined, sender: Ref | undefined): Promise<Reply>;
  reply(to: Delivery, value: unknown, from: Ref): void;
  watch(target: Ref, watcher: Ref): void;
  unwatch(target: Ref, watcher: Ref): void;
  spawnOwned(parent: Cell, behaviour: AnyBehaviour, options: SpawnOptions): Ref;
  stopOwnedChildren(parent: Cell): Promise<void>;
  /** A message that cannot be delivered: dead letter, and fail it if it was an ask. */
  undeliverable(item: unknown, path: string, reason: string, error: TroupeError): void;
  /** Fails an ask delivery with `error` (no-op for a tell). */
  failDelivery(delivery: Delivery, error: TroupeError): void;
  deadLetter(message: unknown, path: string, reason: string): void;
  unregister(cell: Cell): void;
  /** Creates (without starting) a cell; used by supervisors. */
  createCell(behaviour: AnyBehaviour, options: CellSpawnOptions): Cell;
  cellOf(path: string): Cell | undefined;
  emit(event: InspectionEvent): void;
  countRestart(): void;
  reportStopFailure(path: string, error: unknown): void;
}
