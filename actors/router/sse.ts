/**
 * A bounded parser of server-sent events as OpenAI streams them (`data: <json>` events separated by
 * a blank line): it splits a byte stream into events, refusing an event larger than its limit.
 */

/** One event: its raw text (passed through as is) and its data field. */
export interface SseEvent {
  readonly raw: string;
  readonly data: string;
}

/** Splits chunks into events. */
export class SseParser {
  #buffer = '';
  readonly #eventBytesMax: number;

  constructor(eventBytesMax: number) {
    this.#eventBytesMax = eventBytesMax;
  }

  /** Feeds a chunk; returns the events it completed, or an error when an event outgrew the limit. */
  push(chunk: string): SseEvent[] | { readonly error: string } {
    this.#buffer += chunk.replace(/\r\n/g, '\n');
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end < 0) break;
      const raw = this.#buffer.slice(0, end + 2);
      this.#buffer = this.#buffer.slice(end + 2);
      const data = raw.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
      events.push({ raw, data });
    }
    if (this.#buffer.length > this.#eventBytesMax) return { error: `an event exceeds ${this.#eventBytesMax} bytes` };
    return events;
  }
}

/** What a stream chunk carries: generated text, usage, an error. */
export interface ChunkContent {
  readonly text: string;
  readonly cachedTokens?: number;
  readonly hasUsage: boolean;
  readonly error?: string;
}

/** Reads one chunk's JSON (chat or completion); undefined for `[DONE]` or unreadable data. */
export function chunkContent(data: string): ChunkContent | undefined {
  if (data === '[DONE]') return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(data); } catch { return undefined; }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const chunk = parsed as { choices?: unknown; usage?: unknown; error?: unknown };
  let text = '';
  if (Array.isArray(chunk.choices)) {
    for (const choice of chunk.choices as Array<{ delta?: { content?: unknown }; text?: unknown; message?: { content?: unknown } }>) {
      if (typeof choice?.delta?.content === 'string') text += choice.delta.content;
      if (typeof choice?.text === 'string') text += choice.text;
      if (typeof choice?.message?.content === 'string') text += choice.message.content;
    }
  }
  const usage = chunk.usage as { prompt_tokens_details?: { cached_tokens?: unknown } } | null | undefined;
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  const error = typeof chunk.error === 'object' && chunk.error !== null ? String((chunk.error as { message?: unknown }).message ?? 'error') : undefined;
  return { text, hasUsage: usage !== undefined && usage !== null, ...(typeof cached === 'number' ? { cachedTokens: cached } : {}), ...(error === undefined ? {} : { error }) };
}
