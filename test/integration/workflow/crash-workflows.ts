/**
 * The workflows of the crash test, shared by the child process that runs them and the test that checks
 * their histories. Each step's side effect is an append of its idempotency key to a ledger file,
 * fsync'd, deduplicated by key the way an idempotent external API is: a re-run with the same key
 * changes nothing, so the ledger shows each step's effect exactly once if (and only if) the engine
 * never ran a step under two different keys.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { workflow, type WorkflowDefinition } from '../../../actors/workflow/index.js';

/** Input of one crash-test workflow. */
export interface ChainInput {
  readonly steps: number;
  readonly pauseMs: number;
}

/** The ids and inputs the crash test starts: 12 workflows of 5 to 20 steps. */
export function crashPlan(): Array<{ workflowId: string; input: ChainInput }> {
  return Array.from({ length: 12 }, (_, index) => ({ workflowId: `chain-${index}`, input: { steps: 5 + ((index * 7) % 16), pauseMs: 5 + (index % 4) * 5 } }));
}

/** Keys the ledger must hold at the end, one per step. */
export function expectedKeys(): string[] {
  return crashPlan().flatMap(({ workflowId, input }) => Array.from({ length: input.steps }, (_, step) => `${workflowId}/s${step}/1`));
}

/** Reads the ledger's complete lines. */
export function readLedger(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.length > 0);
}

/** An idempotent external effect: appends `key` (fsync'd) unless the ledger already has it. */
export class Ledger {
  readonly #path: string;
  readonly #seen: Set<string>;
  readonly #onApplied: (key: string) => void;

  constructor(path: string, onApplied: (key: string) => void) {
    this.#path = path;
    this.#seen = new Set(readLedger(path));
    this.#onApplied = onApplied;
  }

  apply(key: string): boolean {
    if (this.#seen.has(key)) return false;
    const file = openSync(this.#path, 'a');
    try {
      writeSync(file, `${key}\n`);
      fsyncSync(file);
    } finally {
      closeSync(file);
    }
    this.#seen.add(key);
    this.#onApplied(key);
    return true;
  }
}

/** The chain workflow: `steps` ledger steps with a durable timer half way. */
export function crashWorkflows(ledger: Ledger | undefined): WorkflowDefinition<never, unknown>[] {
  const chain = workflow('chain', async (ctx, input: ChainInput) => {
    const keys: string[] = [];
    for (let index = 0; index < input.steps; index += 1) {
      if (index === Math.floor(input.steps / 2)) await ctx.sleep('half-way', input.pauseMs);
      keys.push(await ctx.step(`s${index}`, (step) => {
        ledger?.apply(step.idempotencyKey);
        return step.idempotencyKey;
      }));
    }
    return keys.length;
  });
  return [chain as WorkflowDefinition<never, unknown>];
}
