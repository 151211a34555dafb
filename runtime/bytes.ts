/**
 * Byte helpers shared by the protocols that sign or MAC a tuple of fields.
 */

/**
 * Concatenates `parts`, each preceded by its length as a 4-byte big-endian integer, so no two different
 * tuples share the same bytes (what a signature or a MAC over several fields needs). Pure.
 */
export function lengthPrefixed(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + 4 + part.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}
