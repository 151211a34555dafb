/**
 * Helpers for storage tests: temporary directories that are always removed, and byte helpers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** Creates temp directories and removes them all in `cleanup` (call it from afterEach/afterAll). */
export class TempDirectories {
  readonly #created: string[] = [];

  /** A new empty directory under the OS temp dir. */
  make(prefix = 'troupe-storage-'): string {
    const directory = mkdtempSync(path.join(tmpdir(), prefix));
    this.#created.push(directory);
    return directory;
  }

  cleanup(): void {
    for (const directory of this.#created.splice(0)) rmSync(directory, { recursive: true, force: true });
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A string from UTF-8 bytes (undefined and null pass through). */
export function text(value: Uint8Array | null | undefined): string | null | undefined {
  return value === null || value === undefined ? value : decoder.decode(value);
}

/** A payload of `length` bytes whose content depends on `seed`, so records differ from each other. */
export function payload(seed: number, length: number): Uint8Array {
  const result = new Uint8Array(length);
  let state = (seed * 2654435761) >>> 0;
  for (let position = 0; position < length; position += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    result[position] = state >>> 24;
  }
  return result;
}
