/**
 * What a test file uses to reach the services that global-setup.ts started: addresses from vitest's
 * `inject`. A test that needs a service fails (never skips) when that service is not running.
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

/** Every service address, all present. */
export interface RunningServices {
  readonly kafkaBrokers: string;
  readonly databaseUrl: string;
  readonly pgliteUrl: string;
}

/**
 * The addresses of all three services, for test files that need them. Throws, failing the file, when
 * one is not running (for example when TROUPE_SERVICES deselected it): a service-backed test never
 * passes by skipping.
 */
export function requiredServices(): RunningServices {
  const { kafkaBrokers, databaseUrl, pgliteUrl } = serviceAddresses();
  const missing = [kafkaBrokers === null ? 'kafka' : '', databaseUrl === null ? 'postgres' : '', pgliteUrl === null ? 'pglite' : ''].filter((name) => name !== '');
  if (kafkaBrokers === null || databaseUrl === null || pgliteUrl === null) {
    throw new Error(`these tests need ${missing.join(', ')}, which the global setup did not start (TROUPE_SERVICES=${process.env.TROUPE_SERVICES ?? ''}); run them with the services on`);
  }
  return { kafkaBrokers, databaseUrl, pgliteUrl };
}
