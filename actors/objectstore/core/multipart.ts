/**
 * Multipart upload rules as S3 has them: part numbers 1 to 10,000; every part but the last at least
 * `partBytesMin` (5 MiB); parts listed in ascending order, each matching an uploaded part's ETag; and
 * the completed object's ETag, the hex MD5 of the concatenated binary part MD5s followed by `-<count>`.
 */
import { md5 } from '@noble/hashes/legacy.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { entityTags } from './conditions.js';
import type { PartRecord } from './layout.js';

/** Bounds of multipart uploads. */
export interface MultipartLimits {
  readonly partNumberMax: number;
  /** Smallest part except the last; smaller is refused EntityTooSmall at completion. */
  readonly partBytesMin: number;
  /** Largest part; larger is refused EntityTooLarge at upload. */
  readonly partBytesMax: number;
}

export const multipartLimits: MultipartLimits = { partNumberMax: 10_000, partBytesMin: 5 * 1024 * 1024, partBytesMax: 5 * 1024 * 1024 * 1024 };

/** One part named in a CompleteMultipartUpload body. */
export interface RequestedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** Why a completion is refused: the S3 error code and a message. */
export interface CompletionRefusal {
  readonly code: 'InvalidPart' | 'InvalidPartOrder' | 'EntityTooSmall' | 'MalformedXML';
  readonly message: string;
}

/** Checks a completion against the uploaded parts; returns the parts in order, or the refusal. */
export function checkCompletion(requested: readonly RequestedPart[], uploaded: ReadonlyMap<number, PartRecord>, limits: MultipartLimits = multipartLimits): PartRecord[] | CompletionRefusal {
  if (requested.length === 0) return { code: 'MalformedXML', message: 'the CompleteMultipartUpload body names no part' };
  const parts: PartRecord[] = [];
  let previous = 0;
  for (const { partNumber, etag } of requested) {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > limits.partNumberMax) return { code: 'InvalidPart', message: `part number ${partNumber} is outside 1 to ${limits.partNumberMax}` };
    if (partNumber <= previous) return { code: 'InvalidPartOrder', message: 'the list of parts was not in ascending order' };
    previous = partNumber;
    const part = uploaded.get(partNumber);
    const tag = entityTags(etag)[0];
    if (part === undefined || tag !== part.etag) return { code: 'InvalidPart', message: `part ${partNumber} was not uploaded or its ETag does not match` };
    parts.push(part);
  }
  for (let index = 0; index < parts.length - 1; index += 1) {
    if (parts[index]!.size < limits.partBytesMin) return { code: 'EntityTooSmall', message: `part ${parts[index]!.partNumber} is ${parts[index]!.size} bytes; every part but the last needs at least ${limits.partBytesMin}` };
  }
  return parts;
}

/** The ETag of a completed upload: hex MD5 of the binary part MD5s, then `-<parts>`. */
export function multipartEtag(partEtags: readonly string[]): string {
  const joined = new Uint8Array(partEtags.length * 16);
  partEtags.forEach((etag, index) => joined.set(hexToBytes(etag.slice(0, 32)), index * 16));
  return `${bytesToHex(md5(joined))}-${partEtags.length}`;
}
