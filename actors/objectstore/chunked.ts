/**
 * An incremental decoder of `Content-Encoding: aws-chunked` bodies, testable without a socket (the
 * way ws parses frames): `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` repeated, a zero-size
 * chunk, then optional trailer lines (`x-amz-checksum-crc32:...`, `x-amz-trailer-signature:...`) and
 * an empty line. With a signature context every chunk's signature is checked against the chain that
 * starts at the request's seed signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD); a bad one fails
 * the body with SignatureDoesNotMatch before its data is passed on. Lines are bounded.
 */
import { createHash, type Hash } from 'node:crypto';
import { S3Error } from './errors.js';
import { chunkSignature, signaturesEqual, trailerSignature, type SignatureContext } from './sigv4.js';

const lineBytesMax = 4096;
const trailerLinesMax = 16;
/** Largest chunk a client may declare (the SDKs send 64 KiB; S3 accepts up to 16 MiB frames). */
const chunkBytesMax = 16 * 1024 * 1024;

type Phase = 'size' | 'data' | 'dataEnd' | 'trailer' | 'done';

/** Decodes an aws-chunked body as it arrives. */
export class AwsChunkedDecoder {
  readonly #signing: Pick<SignatureContext, 'amzDate' | 'scope' | 'signingKey' | 'signature'> | undefined;
  #phase: Phase = 'size';
  #line = '';
  #remaining = 0;
  #chunkSignature: string | undefined;
  #previousSignature: string;
  #chunkHash: Hash | undefined;
  #decodedBytes = 0;
  /** Trailer headers received (lower-case names). */
  readonly trailers = new Map<string, string>();
  readonly #trailerLines: string[] = [];

  /** `signing`: the request's verified signature context when chunks are signed. */
  constructor(signing?: Pick<SignatureContext, 'amzDate' | 'scope' | 'signingKey' | 'signature'>) {
    this.#signing = signing;
    this.#previousSignature = signing?.signature ?? '';
  }

  /** Bytes of payload decoded so far. */
  get decodedBytes(): number {
    return this.#decodedBytes;
  }

  get done(): boolean {
    return this.#phase === 'done';
  }

  /** Feeds bytes; returns the payload pieces they complete (views into `input`). */
  push(input: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let position = 0;
    while (position < input.length) {
      switch (this.#phase) {
        case 'size':
        case 'trailer':
        case 'dataEnd': {
          const newline = input.indexOf(0x0a, position);
          const end = newline < 0 ? input.length : newline + 1;
          this.#line += Buffer.from(input.subarray(position, end)).toString('latin1');
          position = end;
          if (this.#line.length > lineBytesMax) throw new S3Error('IncompleteBody', 'an aws-chunked line is too long');
          if (newline >= 0) {
            const line = this.#line.replace(/\r?\n$/, '');
            this.#line = '';
            this.#onLine(line);
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.#remaining, input.length - position);
          const piece = input.subarray(position, position + take);
          position += take;
          this.#remaining -= take;
          this.#decodedBytes += take;
          if (this.#chunkHash !== undefined) {
            // A signed chunk's data is held back until its signature is checked at the chunk's end.
            this.#chunkHash.update(piece);
            this.#held.push(Buffer.from(piece));
          } else {
            out.push(piece);
          }
          if (this.#remaining === 0) {
            this.#phase = 'dataEnd';
            if (this.#chunkHash !== undefined) {
              this.#checkChunk(this.#chunkHash.digest('hex'));
              out.push(...this.#held.splice(0));
            }
          }
          break;
        }
        case 'done':
          if (input.subarray(position).every((byte) => byte === 0x0d || byte === 0x0a)) return out;
          throw new S3Error('IncompleteBody', 'bytes after the end of an aws-chunked body');
      }
    }
    return out;
  }

  readonly #held: Buffer[] = [];

  /** Ends the body: throws IncompleteBody unless the final chunk arrived. */
  end(): void {
    if (this.#phase === 'trailer' && this.#line === '') this.#finishTrailer();
    if (this.#phase !== 'done') throw new S3Error('IncompleteBody', 'the aws-chunked body ended before its final chunk');
  }

  #onLine(line: string): void {
    if (this.#phase === 'dataEnd') {
      if (line !== '') throw new S3Error('IncompleteBody', 'an aws-chunked chunk is not followed by CRLF');
      this.#phase = 'size';
      return;
    }
    if (this.#phase === 'trailer') {
      if (line === '') {
        this.#finishTrailer();
        return;
      }
      if (this.#trailerLines.length >= trailerLinesMax) throw new S3Error('InvalidRequest', 'too many trailer headers');
      const at = line.indexOf(':');
      if (at <= 0) throw new S3Error('InvalidRequest', 'a malformed trailer header');
      const name = line.slice(0, at).trim().toLowerCase();
      const value = line.slice(at + 1).trim();
      if (name !== 'x-amz-trailer-signature') this.#trailerLines.push(`${name}:${value}`);
      this.trailers.set(name, value);
      return;
    }
    const [sizeText, ...extensions] = line.split(';');
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText ?? '')) throw new S3Error('IncompleteBody', 'a malformed aws-chunked size line');
    const size = Number.parseInt(sizeText!, 16);
    if (size > chunkBytesMax) throw new S3Error('InvalidRequest', `an aws-chunked chunk of ${size} bytes exceeds ${chunkBytesMax}`);
    this.#chunkSignature = extensions.map((extension) => /^chunk-signature=([0-9a-f]{64})$/.exec(extension.trim())?.[1]).find((value) => value !== undefined);
    if (this.#signing !== undefined && this.#chunkSignature === undefined) throw new S3Error('SignatureDoesNotMatch', 'a chunk of a signed stream lacks its chunk-signature');
    if (size === 0) {
      if (this.#signing !== undefined) this.#checkChunk(createHash('sha256').digest('hex'));
      this.#phase = 'trailer';
      return;
    }
    this.#remaining = size;
    this.#chunkHash = this.#signing !== undefined ? createHash('sha256') : undefined;
    this.#phase = 'data';
  }

  #checkChunk(sha256Hex: string): void {
    const expected = chunkSignature(this.#signing!, this.#previousSignature, sha256Hex);
    if (!signaturesEqual(expected, this.#chunkSignature ?? '')) throw new S3Error('SignatureDoesNotMatch', 'a chunk signature does not match');
    this.#previousSignature = expected;
  }

  #finishTrailer(): void {
    const signature = this.trailers.get('x-amz-trailer-signature');
    if (this.#signing !== undefined && this.#trailerLines.length > 0) {
      const expected = trailerSignature(this.#signing, this.#previousSignature, this.#trailerLines.map((line) => `${line}\n`).join(''));
      if (signature === undefined || !signaturesEqual(expected, signature)) throw new S3Error('SignatureDoesNotMatch', 'the trailer signature does not match');
    }
    this.#phase = 'done';
  }
}
