/**
 * SHA-256 for the pure cores, over `@noble/hashes` (an audited, dependency-free, deterministic
 * implementation with no I/O, so it is allowed inside a core). Incremental: `update` any number of
 * times, then `digestHex`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** An incremental SHA-256. */
export interface Sha256 {
  update(bytes: Uint8Array): Sha256;
  /** Finishes the hash; the object must not be used afterwards. */
  digestHex(): string;
}

/** Starts a SHA-256 computation. */
export function createSha256(): Sha256 {
  const hash = sha256.create();
  const wrapper: Sha256 = {
    update(bytes) {
      hash.update(bytes);
      return wrapper;
    },
    digestHex: () => bytesToHex(hash.digest()),
  };
  return wrapper;
}

/** UTF-8 bytes of a string. */
export function utf8Bytes(text: string): Uint8Array {
  return utf8ToBytes(text);
}

/** The hex SHA-256 of bytes or of a string's UTF-8 encoding. */
export function sha256Hex(input: Uint8Array | string): string {
  return bytesToHex(sha256(typeof input === 'string' ? utf8ToBytes(input) : input));
}
