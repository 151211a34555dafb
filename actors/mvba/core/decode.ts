/**
 * Shape checks for messages from the network. Everything a party receives is hostile: a message that is
 * not exactly one of the known shapes, within the configured byte bounds, is refused here with a reason
 * before any protocol code reads it.
 */
import type { MvbaMessage, PartyId } from './types.js';

/** Bounds on what a message may carry. */
export interface MessageLimits {
  readonly parties: number;
  readonly valueBytesMax: number;
  readonly shareBytesMax: number;
  readonly instanceLengthMax: number;
  readonly coinNameLengthMax: number;
  readonly roundMax: number;
  readonly slotMax: number;
  readonly abbaRoundMax: number;
}

/** Why a message was refused; the core counts these. */
export type RefusalReason = 'malformed' | 'wrongInstance' | 'tooFarAhead' | 'notExpected' | 'badProof' | 'invalidValue';

type Parsed = { readonly ok: true; readonly message: MvbaMessage } | { readonly ok: false; readonly reason: RefusalReason };

const bad: Parsed = { ok: false, reason: 'malformed' };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isCount(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

function isBytes(value: unknown, max: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length > 0 && value.length <= max;
}

function isParty(value: unknown, limits: MessageLimits): value is PartyId {
  return isCount(value, limits.parties - 1);
}

/** Checks `raw` against every message shape; `instance` is this party's session id. */
export function parseMessage(raw: unknown, instance: string, limits: MessageLimits): Parsed {
  if (!isRecord(raw) || typeof raw.type !== 'string' || typeof raw.instance !== 'string') return bad;
  if (raw.instance.length > limits.instanceLengthMax) return bad;
  if (!isCount(raw.round, limits.roundMax)) return bad;
  const message = raw as Record<string, unknown> & { type: string };
  const bytes = (key: string, max: number): boolean => isBytes(message[key], max);
  let shaped = false;
  switch (message.type) {
    case 'mvba.send':
      shaped = bytes('value', limits.valueBytesMax);
      break;
    case 'mvba.echo':
      shaped = isParty(message.proposer, limits) && bytes('share', limits.shareBytesMax);
      break;
    case 'mvba.propose':
      shaped = bytes('value', limits.valueBytesMax) && bytes('signature', limits.shareBytesMax);
      break;
    case 'mvba.recommend':
    case 'mvba.found':
      shaped = isParty(message.proposer, limits) && bytes('value', limits.valueBytesMax) && bytes('signature', limits.shareBytesMax);
      break;
    case 'mvba.coin':
      shaped = typeof message.name === 'string' && message.name.length <= limits.coinNameLengthMax && bytes('share', limits.shareBytesMax);
      break;
    case 'mvba.vote':
      shaped = isCount(message.slot, limits.slotMax) && (message.value === null
        ? message.signature === null
        : bytes('value', limits.valueBytesMax) && bytes('signature', limits.shareBytesMax));
      break;
    case 'mvba.bval':
    case 'mvba.aux':
    case 'mvba.term':
      shaped = isCount(message.slot, limits.slotMax) && isCount(message.abbaRound, limits.abbaRoundMax) && isCount(message.value, 1);
      break;
    case 'mvba.conf':
      shaped = isCount(message.slot, limits.slotMax) && isCount(message.abbaRound, limits.abbaRoundMax)
        && (message.value === 1 || message.value === 2 || message.value === 3);
      break;
    case 'mvba.fetch':
      shaped = isParty(message.proposer, limits);
      break;
    default:
      return bad;
  }
  if (!shaped) return bad;
  if (raw.instance !== instance) return { ok: false, reason: 'wrongInstance' };
  return { ok: true, message: message as unknown as MvbaMessage };
}
