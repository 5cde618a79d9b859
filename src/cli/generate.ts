// webmoe generate --model DIR (--tokens LIST | --prompt TEXT) --max-tokens N [--temperature T]
//   [--top-p P] [--top-k K] [--seed S] [--ignore-eos] [--backend cpu|webgpu|browser]
//   [--expert-budget BYTES|N%] --json
// stdout: {"tokens": number[] (generated only), "text"?: string, "stats": {...}}

import { loadTokenizer } from '../generate/tokenizer.ts';
import { makeRng, sample } from '../generate/sampler.ts';
import { nodeDir } from '../store/node-dir.ts';
import { UsageError, bool, int, num, parseArgs, str, tokenList } from './args.ts';
import { backendOf, openRunner } from './load.ts';

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['json', 'ignore-eos']);
  const dir = str(a, 'model', true);
  const maxTokens = int(a, 'max-tokens', 32)!;
  if (maxTokens < 1) throw new UsageError('--max-tokens must be at least 1');
  const temperature = num(a, 'temperature', 1)!;
  if (temperature < 0 || temperature > 2) throw new UsageError(`--temperature must be in [0, 2], got ${temperature}`);
  const topP = num(a, 'top-p', 1)!;
  if (!(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must be in (0, 1], got ${topP}`);
  const topK = int(a, 'top-k', 0)!;
  const seed = int(a, 'seed', 0)!;
  const ignoreEos = bool(a, 'ignore-eos');
  const tokensFlag = str(a, 'tokens');
  const prompt = str(a, 'prompt');
  if ((tokensFlag === undefined) === (prompt === undefined)) throw new UsageError('give exactly one of --tokens LIST or --prompt TEXT');
  const tokenizer = await loadTokenizer(nodeDir(dir)).catch(() => null);
  let input: number[];
  if (tokensFlag !== undefined) input = tokenList(tokensFlag);
  else {
    if (!tokenizer) throw new UsageError(`--prompt needs a tokenizer.json in ${dir}; use --tokens instead`);
    input = tokenizer.encode(prompt!);
    if (input.length === 0) throw new UsageError('--prompt encodes to no tokens');
  }
  const t0 = performance.now();
  const runner = await openRunner(dir, { backend: backendOf(str(a, 'backend')), maxLen: input.length + maxTokens + 1, expertBudget: str(a, 'expert-budget') });
  const tLoad = performance.now();
  const eos = runner.spec.eos_token_id;
  const rng = makeRng(seed);
  const params = { temperature, top_p: topP, top_k: topK, min_p: 0, banned: ignoreEos ? eos : [] };
  const out: number[] = [];
  let finish = 'length';
  let tFirst = 0;
  try {
    let logits = (await runner.forward(input))[0];
    tFirst = performance.now();
    for (let i = 0; i < maxTokens; i++) {
      const next = sample(logits, params, rng);
      out.push(next);
      if (!ignoreEos && eos.includes(next)) {
        finish = 'stop';
        break;
      }
      if (i + 1 < maxTokens) logits = (await runner.forward([next]))[0];
    }
  } finally {
    runner.dispose();
  }
  const tEnd = performance.now();
  const decodeTokens = Math.max(0, out.length - 1);
  const result: Record<string, unknown> = {
    tokens: out,
    stats: {
      backend: runner.backend,
      promptTokens: input.length,
      generatedTokens: out.length,
      finishReason: finish,
      loadMs: Math.round(tLoad - t0),
      prefillMs: Math.round(tFirst - tLoad),
      prefillTokensPerSecond: input.length / ((tFirst - tLoad) / 1000),
      decodeTokensPerSecond: decodeTokens ? decodeTokens / ((tEnd - tFirst) / 1000) : 0,
      ...(runner.expertCacheStats ? { expertCache: runner.expertCacheStats() } : {}),
    },
  };
  if (tokenizer) result.text = tokenizer.decode(out);
  if (bool(a, 'json')) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write((tokenizer ? (result.text as string) : out.join(',')) + '\n');
  return 0;
}
