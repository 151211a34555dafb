/**
 * What a test file uses to reach the services that global-setup.ts started: addresses from vitest's
 * `inject`, and a helper for tests that must skip when a service is off (TROUPE_SERVICES=none).
 */
import { inject } from 'vitest';

/** Addresses of the running services; null for a service that is off. */
export interface ServiceAddresses {
  readonly kafkaBrokers: string | null;
  readonly databaseUrl: string | null;
  readonly pgliteUrl: string | null;
}

/** The addresses published by the global setup. */
export function serviceAddresses(): ServiceAddresses {
  return { kafkaBrokers: inject('kafkaBrokers') ?? null, databaseUrl: inject('databaseUrl') ?? null, pgliteUrl: inject('pgliteUrl') ?? null };
}
