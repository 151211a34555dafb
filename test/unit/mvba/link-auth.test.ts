/**
 * ed25519 sealing of protocol messages (link-auth.ts): a seal opens only at the party it was made for,
 * only as coming from the party that made it, only for the same log, and only untampered.
 */
import { describe, expect, it } from 'vitest';
import { generateLinkKeys, linkKeysFrom, seal, unseal } from '../../../actors/mvba/index.js';

const generated = generateLinkKeys(4);
const keys = [0, 1, 2, 3].map((self) => linkKeysFrom(self, generated.secrets[self]!, generated.publicKeys));
const message = { type: 'mvba.bval', instance: 'log/0', round: 0, slot: 0, abbaRound: 0, value: 1 };

describe('MVBA link authentication (ed25519)', () => {
  it('opens a seal from party 0 at party 1 as the same message', () => {
    expect(unseal(keys[1]!, 'log', 0, seal(keys[0]!, 'log', 1, message))).toEqual(message);
  });

  it('refuses a seal presented as coming from another party (impersonation)', () => {
    expect(unseal(keys[1]!, 'log', 2, seal(keys[0]!, 'log', 1, message))).toBeNull();
  });

  it('refuses a seal made for another recipient (replay to a third party) or another log', () => {
    expect(unseal(keys[2]!, 'log', 0, seal(keys[0]!, 'log', 1, message))).toBeNull();
    expect(unseal(keys[1]!, 'other-log', 0, seal(keys[0]!, 'log', 1, message))).toBeNull();
  });

  it('refuses a tampered payload or signature, and anything that is not a seal', () => {
    const sealed = seal(keys[0]!, 'log', 1, message);
    const payload = sealed.payload.slice();
    payload[payload.length - 1]! ^= 1;
    expect(unseal(keys[1]!, 'log', 0, { ...sealed, payload })).toBeNull();
    const signature = sealed.signature.slice();
    signature[0]! ^= 1;
    expect(unseal(keys[1]!, 'log', 0, { ...sealed, signature })).toBeNull();
    for (const bad of [message, null, 'mvba.sealed', { type: 'mvba.sealed', payload: 'x', signature: new Uint8Array(64) }]) {
      expect(unseal(keys[1]!, 'log', 0, bad)).toBeNull();
    }
  });
});
