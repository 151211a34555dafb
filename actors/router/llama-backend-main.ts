/**
 * Runs one llama.cpp backend process (llama-backend.ts):
 *   node --import tsx actors/router/llama-backend-main.ts --model tiny.gguf --port 8001 [--slots 2] [--context 2048] [--threads 1]
 * Prints `ready <url> <bootId>` on stdout once it serves; stops on SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { startLlamaBackend } from './llama-backend.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' },
    slots: { type: 'string', default: '2' }, context: { type: 'string', default: '2048' }, threads: { type: 'string', default: '1' },
    name: { type: 'string', default: 'tiny-llama' },
  },
});
if (values.model === undefined || values.port === undefined) {
  process.stderr.write('usage: llama-backend-main --model <gguf> --port <port> [--slots n] [--context tokens] [--threads n]\n');
  process.exit(2);
}
const backend = await startLlamaBackend({
  modelPath: values.model, port: Number(values.port), host: values.host, slots: Number(values.slots),
  contextTokens: Number(values.context), threads: Number(values.threads), modelName: values.name,
});
process.stdout.write(`ready ${backend.url} ${backend.bootId}\n`);
const stop = (): void => { void backend.close().then(() => process.exit(0), () => process.exit(1)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
