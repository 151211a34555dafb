/** JSON values: what a history can hold. Values are round-tripped so a live run sees what a replay sees. */
import { WorkflowError } from './errors.js';

/** `value` as it reads back from the history (JSON round trip), or NOT_JSON if it has no JSON form or is too large. */
export function toJson(value: unknown, bytesMax: number, what: string): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value ?? null);
  } catch (error) {
    throw new WorkflowError('NOT_JSON', `${what} is not JSON: ${String(error)}`, { cause: error });
  }
  if (text === undefined) throw new WorkflowError('NOT_JSON', `${what} is not JSON`);
  if (text.length > bytesMax) throw new WorkflowError('NOT_JSON', `${what} is ${text.length} bytes as JSON, more than ${bytesMax}`, { context: { bytesMax } });
  return JSON.parse(text) as unknown;
}

/** A canonical JSON text (object keys sorted), to compare inputs of idempotent starts. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
