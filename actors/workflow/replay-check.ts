/**
 * Offline replay of a finished or open history through a workflow function, with no effects
 * executed: proves the history and the code agree (no NONDETERMINISM) and that replay reaches the same
 * final state. Used by the crash test and for checking a code change against recorded histories.
 */
import { assert } from '../../runtime/index.js';
import { foldHistory, step, type FailureInfo, type HistoryEvent, type RunStatus } from './core/index.js';
import type { WorkflowDefinition } from './definition.js';
import { NondeterminismError } from './errors.js';
import { workflowLimits, type WorkflowLimits } from './limits.js';
import { Replayer } from './replayer.js';

/** What a replay of a history reached. */
export interface ReplayOutcome {
  readonly status: RunStatus;
  readonly result?: unknown;
  readonly failure?: FailureInfo;
  readonly nondeterminism?: NondeterminismError;
}

const terminal = new Set(['completed', 'failed', 'cancelled', 'timedOut', 'continuedAsNew']);

/** Replays `history` through `definition`; a terminal history must end at the same status and result. */
export async function replayHistory(definition: WorkflowDefinition, history: readonly HistoryEvent[], limits: WorkflowLimits = workflowLimits): Promise<ReplayOutcome> {
  const first = history[0];
  assert(first?.type === 'started', 'a history starts with a started event');
  const last = history[history.length - 1]!;
  // Fold all but a terminal event, so the core compares the replay's own completion command too.
  const open = terminal.has(last.type) && last.type !== 'timedOut' ? history.slice(0, -1) : history;
  const replayer = new Replayer(definition, first.workflowId, { nowMs: () => Number.NaN, random: () => Number.NaN }, limits);
  replayer.preload(history);
  replayer.start(first.input);
  await replayer.settle();
  for (const event of open) if (replayer.feed(event)) await replayer.settle();
  const state = foldHistory(open);
  const commands = replayer.takeCommands().filter((command) => command.seq <= state.commands.length);
  const output = step(state, { type: 'commands', commands, nowMs: Number.NaN });
  for (const effect of output.effects) {
    if (effect.type === 'nondeterminism') {
      return { status: state.status, nondeterminism: new NondeterminismError(first.workflowId, effect.seq, effect.expected, effect.actual) };
    }
  }
  const reached = output.state;
  if (replayer.issued < state.commands.length) {
    return { status: reached.status, nondeterminism: new NondeterminismError(first.workflowId, replayer.issued, state.commands[replayer.issued], undefined) };
  }
  return { status: reached.status, ...(reached.result !== undefined ? { result: reached.result } : {}), ...(reached.failure !== undefined ? { failure: reached.failure } : {}) };
}
