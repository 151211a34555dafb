/**
 * Helpers for workflow engine tests: an engine on a real temporary WAL driven by a VirtualClock, and
 * restarts that close it and open a new engine over the same directory (what a supervisor restart does).
 */
import { createRng, VirtualClock } from '../../../runtime/index.js';
import { WorkflowEngine, type HistoryEvent, type WorkflowDefinition, type WorkflowLimits } from '../../../actors/workflow/index.js';
import { TempDirectories } from '../../support/storage-temp.js';
import { waitFor } from '../../support/wait.js';

/** An engine under test with its clock and directory. */
export class EngineHarness {
  readonly clock: VirtualClock;
  readonly directory: string;
  engine!: WorkflowEngine;
  #workflows: readonly WorkflowDefinition<never, unknown>[];
  readonly #options: { taskQueues?: Record<string, number>; limits?: Partial<WorkflowLimits> };

  private constructor(directory: string, workflows: readonly WorkflowDefinition<never, unknown>[], options: { taskQueues?: Record<string, number>; limits?: Partial<WorkflowLimits> }) {
    this.clock = new VirtualClock(1_000_000);
    this.directory = directory;
    this.#workflows = workflows;
    this.#options = options;
  }

  /** Opens an engine over a new temporary directory. */
  static async open(temps: TempDirectories, workflows: readonly WorkflowDefinition<never, unknown>[], options: { taskQueues?: Record<string, number>; limits?: Partial<WorkflowLimits> } = {}): Promise<EngineHarness> {
    const harness = new EngineHarness(temps.make('troupe-workflow-'), workflows, options);
    await harness.#openEngine();
    return harness;
  }

  async #openEngine(): Promise<void> {
    this.engine = await WorkflowEngine.open({ directory: this.directory, workflows: this.#workflows, clock: this.clock, rng: createRng(7), ...this.#options });
  }

  /** Closes the engine and opens a new one over the same WAL, optionally with changed workflow code. */
  async restart(workflows?: readonly WorkflowDefinition<never, unknown>[]): Promise<void> {
    await this.engine.close();
    if (workflows !== undefined) this.#workflows = workflows;
    await this.#openEngine();
  }

  /** Waits until the run's history holds an event matching `predicate`. */
  async until(workflowId: string, predicate: (event: HistoryEvent) => boolean, what = 'event'): Promise<HistoryEvent> {
    return waitFor(() => this.engine.history(workflowId).find(predicate), { what: `${workflowId}: ${what}` });
  }

  /** Waits until the run left `running`. */
  async finished(workflowId: string): Promise<void> {
    await waitFor(() => this.engine.describe(workflowId).status !== 'running', { what: `${workflowId} to finish` });
  }

  /** Event types of a run's history. */
  types(workflowId: string): string[] {
    return this.engine.history(workflowId).map((event) => event.type);
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}

/** A promise with its resolve/reject, for steps a test completes by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** An error with a `code`, as a typed API error would carry. */
export function codedError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}
