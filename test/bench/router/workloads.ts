/**
 * The router bench's workloads over real backends, as request scripts: a shared-prefix workload
 * (groups of requests under long system prompts, like SGLang's generated-shared-prefix benchmark) and
 * a multi-turn chat workload (each turn's prompt is the conversation so far, answers included).
 * Text is letters without spaces (a space is three tokens in the tiny model's vocabulary), seeded.
 */
import type { Rng } from '../../../runtime/index.js';

/** Seeded letters. */
export function letters(rng: Rng, length: number): string {
  const codes = new Array<number>(length);
  for (let index = 0; index < length; index += 1) codes[index] = 97 + Math.floor(rng.next() * 26);
  return String.fromCharCode(...codes);
}

/** A chat message. */
export interface Message { readonly role: 'system' | 'user' | 'assistant'; readonly content: string }

/** One client job: a conversation of one or more turns run in order (each turn sees earlier answers). */
export interface Job {
  readonly system: string;
  readonly users: readonly string[];
  readonly user?: string;
  readonly maxTokens: number;
}

/** `requests` single-turn jobs over `groups` system prompts of `systemLength` letters. */
export function sharedPrefixJobs(rng: Rng, options: { groups: number; systemLength: number; questionLength: number; requests: number; maxTokens: number }): Job[] {
  const systems = Array.from({ length: options.groups }, () => letters(rng, options.systemLength));
  return Array.from({ length: options.requests }, () => ({
    system: systems[Math.floor(rng.next() * systems.length)]!, users: [letters(rng, options.questionLength)], maxTokens: options.maxTokens,
  }));
}

/** `conversations` chats of `turns` turns under one shared short system prompt, each with its user key. */
export function multiTurnJobs(rng: Rng, options: { conversations: number; turns: number; systemLength: number; userLength: number; maxTokens: number }): Job[] {
  const system = letters(rng, options.systemLength);
  return Array.from({ length: options.conversations }, (_, index) => ({
    system, users: Array.from({ length: options.turns }, () => letters(rng, options.userLength)), user: `conversation-${index}`, maxTokens: options.maxTokens,
  }));
}

/**
 * The best hit rate any router could reach with unbounded caches: each prompt's longest prefix among
 * the prompts (with their completions) sent before it, in characters (one token each for this model's
 * letters), over all prompt characters.
 */
export function oracleHitRate(served: ReadonlyArray<{ readonly prompt: string; readonly after: string }>): number {
  let total = 0;
  let reusable = 0;
  const seen: string[] = [];
  for (const { prompt, after } of served) {
    let best = 0;
    for (const earlier of seen) {
      let length = 0;
      const limit = Math.min(earlier.length, prompt.length);
      while (length < limit && earlier.charCodeAt(length) === prompt.charCodeAt(length)) length += 1;
      if (length > best) best = length;
    }
    total += prompt.length;
    reusable += best;
    seen.push(after);
  }
  return total === 0 ? 0 : reusable / total;
}
