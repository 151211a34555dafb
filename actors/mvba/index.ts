/**
 * The MVBA component's public surface: the pure core (Prioritized-MVBA and the CKPS01 baseline behind
 * one `step`), its message and effect types, and the threshold cryptography it signs with (threshold
 * BLS for deployments, a fast simulated scheme for simulations), with key dealing and key files.
 */
export { defaultMvbaLimits, newMvba, step, type MvbaConfig, type MvbaLimits, type MvbaState } from './core/mvba.js';
export { faultsTolerated } from './core/quorum.js';
export type {
  CombineResult, Decision, MvbaEffect, MvbaInput, MvbaMessage, MvbaProtocol, PartyCrypto, PartyId, Proof, SignatureShare,
  ThresholdSigner, ThresholdVerifier,
} from './core/types.js';
export { BlsThresholdSigner, BlsThresholdVerifier, dealThresholdKeys, type DealtKeys, type ThresholdPublicKeys } from './threshold-bls.js';
export { SimulatedThresholdSigner } from './threshold-simulated.js';
export { dealPartyKeys, linkKeysFromKeyFile, partyCryptoFromKeyFile, simulatedPartyCrypto, type PartyKeyFile } from './keys.js';
export { generateLinkKeys, linkKeysFrom, seal, unseal, type LinkKeys, type SealedMessage } from './link-auth.js';
export { keygenPartiesMax, mvbaKeygen } from './cli.js';
export { mvbaLogReplica, type MvbaLogReplicaOptions, type MvbaLogReplicaState } from './actor.js';
export { LogHost, validTransaction, type LogHostOptions, type LogPeerMessage, type LogTransaction, type SubmitReply } from './log-host.js';
export { MvbaClientError, MvbaLogClient, type MvbaLogTransport } from './client.js';
