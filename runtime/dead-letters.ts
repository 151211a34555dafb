/**
 * The dead-letters actor: every message that could not be delivered ends here with a reason. It keeps
 * the most recent ones for inspection (a bounded ring) and answers `deadLetters.list`.
 */
import { behaviour, refuseUnknown } from './behaviour.js';
import { limits } from './limits.js';

/** One undeliverable message. */
export interface DeadLetterRecord {
  readonly type: 'deadLetter';
  readonly to: string;
  readonly reason: string;
  readonly at: number;
  readonly message: unknown;
}

/** Messages the dead-letters actor answers. */
export type DeadLettersMessage = DeadLetterRecord | { readonly type: 'deadLetters.list' };

interface DeadLettersState {
  readonly recent: DeadLetterRecord[];
  received: number;
}

/** Keeps the last `limits.deadLettersKept` dead letters; older ones are forgotten. */
export const deadLettersBehaviour = behaviour<DeadLettersState, DeadLettersMessage>({
  name: 'deadLetters',
  mailbox: { capacity: 100_000, overflow: 'reject' },
  init: () => ({ recent: [], received: 0 }),
  receive(state, message, ctx) {
    if (message?.type === 'deadLetter') {
      state.received += 1;
      state.recent.push(message);
      if (state.recent.length > limits.deadLettersKept) state.recent.shift();
    } else if (message?.type === 'deadLetters.list') {
      ctx.reply({ received: state.received, recent: [...state.recent] });
    } else {
      refuseUnknown(ctx, message, 'deadLetters');
    }
    return state;
  },
});
