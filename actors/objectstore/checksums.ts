/**
 * Digests of a body as it streams through: the MD5 that is an object's ETag (and Content-MD5's
 * check), the SHA-256 a signed payload declares, and the `x-amz-checksum-*` algorithms current SDKs
 * send by default (CRC32, CRC32C, SHA-1, SHA-256), each as S3 encodes it (base64 of the big-endian
 * value or digest).
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32, crc32c } from '@node-rs/crc32';
import type { ChecksumAlgorithm } from './core/layout.js';
import { S3Error } from './errors.js';

export const checksumAlgorithms: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'];

/** The header that carries an algorithm's value. */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** Parses an algorithm name as clients send it (`x-amz-sdk-checksum-algorithm`, `x-amz-checksum-algorithm`). */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm {
  const upper = value.toUpperCase().replace('-', '');
  const found = checksumAlgorithms.find((algorithm) => algorithm === upper);
  if (found === undefined) throw new S3Error('InvalidRequest', `checksum algorithm ${JSON.stringify(value)} is not supported`);
  return found;
}

interface RunningChecksum {
  update(bytes: Uint8Array): void;
  digest(): string;
}

function crcRunning(function_: (input: Uint8Array, initial?: number) => number): RunningChecksum {
  let state = 0;
  return {
    update: (bytes) => { state = function_(bytes, state); },
    digest: () => {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(state >>> 0);
      return value.toString('base64');
    },
  };
}

function hashRunning(name: string): RunningChecksum {
  const hash: Hash = createHash(name);
  return { update: (bytes) => void hash.update(bytes), digest: () => hash.digest('base64') };
}

function running(algorithm: ChecksumAlgorithm): RunningChecksum {
  switch (algorithm) {
    case 'CRC32': return crcRunning(crc32);
    case 'CRC32C': return crcRunning(crc32c);
    case 'SHA1': return hashRunning('sha1');
    case 'SHA256': return hashRunning('sha256');
  }
}

/** The digests of one body. */
export class BodyDigests {
  readonly #md5 = createHash('md5');
  readonly #sha256: Hash | undefined;
  readonly #checksums = new Map<ChecksumAlgorithm, RunningChecksum>();
  bytes = 0;

  /** `sha256`: also compute the hex SHA-256 (for a signed payload hash). */
  constructor(options: { sha256?: boolean; algorithms?: readonly ChecksumAlgorithm[] } = {}) {
    this.#sha256 = options.sha256 ? createHash('sha256') : undefined;
    for (const algorithm of options.algorithms ?? []) this.#checksums.set(algorithm, running(algorithm));
  }

  update(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    this.#md5.update(bytes);
    this.#sha256?.update(bytes);
    for (const checksum of this.#checksums.values()) checksum.update(bytes);
  }

  /** Finishes: the MD5 (hex and base64), the SHA-256 if asked (hex), and each checksum (base64). */
  finish(): { md5Hex: string; md5Base64: string; sha256Hex?: string; checksums: Partial<Record<ChecksumAlgorithm, string>> } {
    const md5 = this.#md5.digest();
    const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const [algorithm, checksum] of this.#checksums) checksums[algorithm] = checksum.digest();
    return { md5Hex: md5.toString('hex'), md5Base64: md5.toString('base64'), ...(this.#sha256 ? { sha256Hex: this.#sha256.digest('hex') } : {}), checksums };
  }
}

/** Checks a Content-MD5 header value against the body's MD5: InvalidDigest when malformed, BadDigest when different. */
export function checkContentMd5(header: string, md5Base64: string): void {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(header.trim())) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  if (header.trim() !== md5Base64) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
}

/** Checks a sent checksum against the computed one: InvalidRequest naming the algorithm when different (S3's BadDigest). */
export function checkChecksum(algorithm: ChecksumAlgorithm, sent: string, computed: string | undefined): void {
  if (computed === undefined || sent.trim() !== computed) throw new S3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
}
