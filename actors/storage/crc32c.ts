/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI (RFC 3720), ext4 metadata,
 * LevelDB and etcd's WAL. It detects all burst errors up to 32 bits and is the usual choice for storage
 * records.
 *
 * Table-driven "slicing by 8" (eight 256-entry tables, eight bytes per step). No package: none of the
 * installed dependencies provides CRC32C, Node 20 has no built-in for it (`zlib.crc32` is plain CRC32,
 * and only from Node 22), and the whole algorithm is the few lines below. Pure: no I/O.
 */

const POLYNOMIAL = 0x82f63b78;

/** Eight lookup tables laid end to end: table k holds the CRC of a byte followed by k zero bytes. */
const TABLES = buildTables();

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    tables[byte] = crc >>> 0;
  }
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = tables[byte]!;
    for (let slice = 1; slice < 8; slice += 1) {
      crc = (crc >>> 8) ^ tables[crc & 0xff]!;
      tables[slice * 256 + byte] = crc >>> 0;
    }
  }
  return tables;
}

/**
 * Continues a CRC32C over `bytes[start, end)`. Pass the result of a previous call as `previous` to
 * checksum data that arrives in pieces; start from 0. Returns an unsigned 32-bit value.
 */
export function crc32c(bytes: Uint8Array, previous = 0, start = 0, end = bytes.length): number {
  const table = TABLES;
  let crc = ~previous >>> 0;
  let offset = start;
  // Eight bytes per step while at least eight remain; the tables fold them in at once.
  while (end - offset >= 8) {
    const low = (crc ^ (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24))) >>> 0;
    crc =
      table[7 * 256 + (low & 0xff)]! ^
      table[6 * 256 + ((low >>> 8) & 0xff)]! ^
      table[5 * 256 + ((low >>> 16) & 0xff)]! ^
      table[4 * 256 + (low >>> 24)]! ^
      table[3 * 256 + bytes[offset + 4]!]! ^
      table[2 * 256 + bytes[offset + 5]!]! ^
      table[256 + bytes[offset + 6]!]! ^
      table[bytes[offset + 7]!]!;
    offset += 8;
  }
  while (offset < end) {
    crc = (crc >>> 8) ^ table[(crc ^ bytes[offset]!) & 0xff]!;
    offset += 1;
  }
  return ~crc >>> 0;
}
