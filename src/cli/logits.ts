// webmoe logits --model DIR --tokens 1,2,3 [--backend cpu|webgpu|browser]
// stdout: {"logits": number[][]}, one row per input position.

import { backendOf, openRunner } from './load.ts';
import { parseArgs, str, tokenList } from './args.ts';

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const dir = str(a, 'model', true);
  const tokens = tokenList(str(a, 'tokens', true));
  const runner = await openRunner(dir, { backend: backendOf(str(a, 'backend')), maxLen: tokens.length + 1 });
  try {
    const logits = await runner.forward(tokens, true);
    process.stdout.write(JSON.stringify({ logits: logits.map((l) => Array.from(l)) }) + '\n');
  } finally {
    runner.dispose();
  }
  return 0;
}
