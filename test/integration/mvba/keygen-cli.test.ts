/**
 * `troupe mvba keygen`: the real CLI in a child process deals key files that load into working
 * threshold signers (any 2f + 1 quorum shares and any f + 1 coin shares combine and verify), refuses
 * to overwrite them, and refuses a bad party count.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { partyCryptoFromKeyFile, type PartyKeyFile } from '../../../actors/mvba/index.js';
import { runCli, stopAllChildren } from '../../support/children.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});
afterAll(stopAllChildren);

describe('troupe mvba keygen', () => {
  it('writes one owner-only key file per party, and the files sign and combine as one key set', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'troupe-mvba-keys-'));
    directories.push(directory);
    const out = join(directory, 'keys');
    const result = await runCli(['mvba', 'keygen', '--n', '4', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const files = (JSON.parse(result.stdout) as { files: string[] }).files;
    expect(files).toHaveLength(4);
    expect(statSync(files[0]!).mode & 0o777).toBe(0o600);
    const cryptos = files.map((file) => partyCryptoFromKeyFile(JSON.parse(readFileSync(file, 'utf8')) as PartyKeyFile));
    const message = new TextEncoder().encode('statement');
    const quorum = cryptos[0]!.quorum.combine(message, [3, 1, 2].map((signer) => ({ signer, share: cryptos[signer]!.quorum.signShare(message) })));
    expect(quorum.ok && cryptos[2]!.quorum.verify(message, quorum.signature)).toBe(true);
    const coin = cryptos[1]!.coin.combine(message, [0, 3].map((signer) => ({ signer, share: cryptos[signer]!.coin.signShare(message) })));
    expect(coin.ok).toBe(true);

    const again = await runCli(['mvba', 'keygen', '--n', '4', '--out', out]);
    expect(again.code).not.toBe(0);
    expect(again.stderr + again.stdout).toMatch(/EEXIST|exist/);
  });

  it('refuses a party count below 4 with a usage error', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'troupe-mvba-keys-'));
    directories.push(directory);
    const result = await runCli(['mvba', 'keygen', '--n', '2', '--out', join(directory, 'keys')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toMatch(/--n must be/);
  });
});
