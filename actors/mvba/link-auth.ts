/**
 * Per-party message authentication with ed25519 (node:crypto). The cluster's links authenticate nodes
 * with one shared cluster secret, which every node holds: against a Byzantine node that is not enough,
 * since it could present itself under another node's name. So each party also holds its own ed25519
 * key, and every protocol message it sends is sealed: the signature covers the log's name, the sender
 * and the recipient party and the message's bytes. The recipient checks it against the key of the party
 * the link says the message came from, so a message cannot be forged for, or replayed to, another party.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { codec } from '../../runtime/index.js';
import type { PartyId } from './core/types.js';

/** A sealed protocol message. */
export interface SealedMessage {
  readonly type: 'mvba.sealed';
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** One party's link keys: its own secret key and every party's public key. */
export interface LinkKeys {
  readonly self: PartyId;
  readonly secret: KeyObject;
  readonly publicKeys: readonly KeyObject[];
}

/** Generates one ed25519 key pair per party: DER public keys (SPKI) and secret keys (PKCS#8). */
export function generateLinkKeys(parties: number): { publicKeys: Uint8Array[]; secrets: Uint8Array[] } {
  const pairs = Array.from({ length: parties }, () => generateKeyPairSync('ed25519'));
  return {
    publicKeys: pairs.map((pair) => new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }))),
    secrets: pairs.map((pair) => new Uint8Array(pair.privateKey.export({ type: 'pkcs8', format: 'der' }))),
  };
}

/** Link keys from their DER encodings. */
export function linkKeysFrom(self: PartyId, secret: Uint8Array, publicKeys: readonly Uint8Array[]): LinkKeys {
  return {
    self,
    secret: createPrivateKey({ key: Buffer.from(secret), format: 'der', type: 'pkcs8' }),
    publicKeys: publicKeys.map((key) => createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' })),
  };
}

function statement(scope: string, from: PartyId, to: PartyId, payload: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify(['troupe.mvba.link.v1', scope, from, to, payload.length]));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, payload]);
}

/** Seals `message` from this party to party `to`. */
export function seal(keys: LinkKeys, scope: string, to: PartyId, message: unknown): SealedMessage {
  const payload = codec.encode(message);
  return { type: 'mvba.sealed', payload, signature: new Uint8Array(sign(null, statement(scope, keys.self, to, payload), keys.secret)) };
}

/** Opens a message the link says came from party `from`; null when it is not a valid seal by `from` to this party. */
export function unseal(keys: LinkKeys, scope: string, from: PartyId, sealed: unknown): unknown | null {
  if (typeof sealed !== 'object' || sealed === null) return null;
  const { type, payload, signature } = sealed as Partial<SealedMessage>;
  const key = keys.publicKeys[from];
  if (type !== 'mvba.sealed' || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== 64 || key === undefined) return null;
  if (!verify(null, statement(scope, from, keys.self, payload), key, signature)) return null;
  try {
    return codec.decode(payload);
  } catch {
    // A validly sealed but undecodable payload came from a Byzantine party: refused like any bad message.
    return null;
  }
}
