// Runs one benchmark: `npm run bench -- <name>` executes test/bench/<name>.bench.ts with tsx.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const name = process.argv[2];
const available = readdirSync('test/bench').filter((file) => file.endsWith('.bench.ts')).map((file) => file.replace('.bench.ts', ''));
if (!name || !existsSync(`test/bench/${name}.bench.ts`)) {
  console.error(`usage: npm run bench -- <name>   (one of: ${available.join(', ')})`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', `test/bench/${name}.bench.ts`, ...process.argv.slice(3)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
