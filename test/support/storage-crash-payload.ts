/**
 * The payload the storage crash test writes for record (writer, value): deterministic, so the test can
 * check that the bytes that come back are exactly the bytes that were acknowledged.
 */
export function crashPayload(writer: number, value: number): Uint8Array {
  const result = new Uint8Array(48 + (value % 64));
  let state = (writer * 7_919 + value * 104_729) >>> 0;
  for (let position = 0; position < result.length; position += 1) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    result[position] = state >>> 24;
  }
  return result;
}
