/**
 * Prompt workloads for the routing simulation and benches: groups of requests sharing long system
 * prompts (as SGLang's generated-shared-prefix benchmark), and multi-turn chats whose every turn
 * extends the conversation so far. Text is deterministic from a seeded generator.
 */
import type { Rng } from '../../../runtime/index.js';

/** Random lowercase text of `length` characters. */
export function randomText(rng: Rng, length: number): string {
  const codes = new Array<number>(length);
  for (let index = 0; index < length; index += 1) codes[index] = rng.next() < 0.15 ? 32 : 97 + Math.floor(rng.next() * 26);
  return String.fromCharCode(...codes);
}

/** One request of a workload. */
export interface WorkloadRequest {
  readonly prompt: string;
  readonly sessionKey?: string;
  readonly outputTokens: number;
}

/** Shared-prefix groups: `groups` system prompts of `systemLength` characters, questions of `questionLength`. */
export class SharedPrefixWorkload {
  readonly #rng: Rng;
  readonly #systems: string[];
  readonly #questionLength: number;
  readonly #outputTokens: number;

  constructor(rng: Rng, options: { groups: number; systemLength: number; questionLength: number; outputTokens: number }) {
    this.#rng = rng;
    this.#systems = Array.from({ length: options.groups }, () => randomText(rng, options.systemLength));
    this.#questionLength = options.questionLength;
    this.#outputTokens = options.outputTokens;
  }

  get systems(): readonly string[] {
    return this.#systems;
  }

  next(): WorkloadRequest {
    const system = this.#systems[Math.floor(this.#rng.next() * this.#systems.length)]!;
    return { prompt: `${system}\nQ: ${randomText(this.#rng, this.#questionLength)}\nA:`, outputTokens: this.#outputTokens };
  }
}

/** One multi-turn conversation: each turn's prompt is the whole conversation so far. */
export class Conversation {
  readonly sessionKey: string;
  #history: string;
  turns = 0;
  readonly #rng: Rng;
  readonly #userLength: number;

  constructor(rng: Rng, sessionKey: string, options: { systemPrompt: string; userLength: number }) {
    this.#rng = rng;
    this.sessionKey = sessionKey;
    this.#userLength = options.userLength;
    this.#history = `${options.systemPrompt}\n`;
  }

  /** The next turn's prompt. */
  next(outputTokens: number): WorkloadRequest {
    this.#history += `user: ${randomText(this.#rng, this.#userLength)}\nassistant:`;
    this.turns += 1;
    return { prompt: this.#history, sessionKey: this.sessionKey, outputTokens };
  }

  /** Appends the answer (the next turn's prompt includes it). */
  answered(completion: string): void {
    this.#history += `${completion}\n`;
  }
}
