// webmoe eval-bpb --model DIR --text FILE [--max-bytes N] [--ctx N]
// Bits per byte of a text under the CPU reference (src/prune/bpb.ts: the windows of
// tools/train/eval_bpb.py's "stream" metric). --max-bytes keeps the first N bytes of the file,
// cut back to the last line break, so every model is scored on the same prefix.
// stdout: {"bpb", "natsPerToken", "tokens", "bytes", "windows", "model", "seconds"}.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { loadTokenizer } from '../generate/tokenizer.ts';
import { bitsPerByte } from '../prune/bpb.ts';
import { ReferenceModel } from '../reference/forward.ts';
import { nodeDir } from '../store/node-dir.ts';
import { UsageError, int, parseArgs, str } from './args.ts';
import { openWeights } from './load.ts';

const USAGE = 'webmoe eval-bpb --model DIR --text FILE [--max-bytes N] [--ctx N]';

/** The first maxBytes bytes of a text, cut back to the last line break inside them (if any). */
export function textPrefix(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  const cut = new TextDecoder().decode(bytes.subarray(0, maxBytes));
  const nl = cut.lastIndexOf('\n');
  return nl > 0 ? cut.slice(0, nl + 1) : cut.replace(/\uFFFD$/, '');
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const dir = str(a, 'model', true);
  const file = str(a, 'text');
  if (file === undefined) throw new UsageError(`--text FILE is required\nusage: ${USAGE}`);
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--text ${file}: no such file`);
  const maxBytes = int(a, 'max-bytes');
  if (maxBytes !== undefined && maxBytes < 1) throw new UsageError('--max-bytes must be at least 1');
  const ctx = int(a, 'ctx');
  if (ctx !== undefined && ctx < 3) throw new UsageError('--ctx must be at least 3');
  const full = readFileSync(file, 'utf8');
  const text = maxBytes === undefined ? full : textPrefix(full, maxBytes);
  const t0 = performance.now();
  const weights = await openWeights(dir);
  const tokenizer = await loadTokenizer(nodeDir(dir));
  if (!tokenizer) throw new UsageError(`${dir} has no tokenizer.json; eval-bpb needs one to turn the text into tokens`);
  const model = await ReferenceModel.load(weights);
  let last = t0;
  const r = bitsPerByte(model, tokenizer, text, {
    ctx,
    onWindow: (done, total) => {
      const now = performance.now();
      if (now - last < 5000) return;
      last = now;
      process.stderr.write(`eval-bpb: window ${done}/${total}, ${((now - t0) / 1000).toFixed(0)} s\n`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ model: dir, ...r, seconds: Math.round(seconds * 1000) / 1000 }) + '\n');
  return 0;
}
