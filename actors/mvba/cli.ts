/**
 * `troupe mvba keygen --n <parties> --out <dir>`: a trusted dealer's key generation. Writes one key file
 * per party (`party-<i>.json`, readable by its owner only), each holding the public keys of both key
 * sets and that party's two secret shares. The dealer's polynomials are never written anywhere.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../runtime/errors.js';
import { dealPartyKeys } from './keys.js';

/** The largest key set the command deals (a limit on the dealer's work, not on the protocol). */
export const keygenPartiesMax = 256;

/** Deals keys for `parties` parties into `directory`; returns the files written. */
export async function mvbaKeygen(options: { parties: number; directory: string }): Promise<string[]> {
  const { parties, directory } = options;
  if (!Number.isSafeInteger(parties) || parties < 4 || parties > keygenPartiesMax) {
    throw new InvalidArgumentError(`--n must be an integer from 4 to ${keygenPartiesMax} (n = 3f + 1 with f >= 1), not ${parties}`);
  }
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  for (const file of dealPartyKeys(parties)) {
    const path = join(directory, `party-${file.self}.json`);
    // `wx`: an existing key file is never overwritten (a second deal would split the key sets).
    await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    files.push(path);
  }
  return files;
}
