import { describe, expect, it } from 'vitest';
import { CpuRunner } from '../reference/runner.ts';
import { ContextLengthExceededError } from './errors.ts';
import { decodeNTokens, generate, generateAll, prefill, type GenerateOptions, type GenerateStep, type GenerationResult } from './loop.ts';
import { TokenHistory, argmax, makeRng, type SamplingParams } from './sampler.ts';
import { byteLevelTokenizerJson, tinyRandomModel } from './testing.ts';
import { tokenizerFromJson } from './tokenizer.ts';

const tok = tokenizerFromJson(
  byteLevelTokenizerJson([['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['Ġ', 'a'], ['o', 'n']], [{ content: '<|eos|>', special: true }]),
  { eos_token: '<|eos|>' },
);
const EOS = tok.tokenToId('<|eos|>')!;
const model = tinyRandomModel(tok.vocabSize, 1, 0.5, [EOS]);
const prompt = tok.encode('Once upon a time');

/** Ban everything but lowercase letters, space and the merged tokens, so the text is readable. */
const readable = new Set([...'abcdefghijklmnopqrstuvwxyz '].map((c) => tok.encode(c)[0]).concat(tok.encode(' the on a')));
const bannedForText = [...Array(tok.vocabSize).keys()].filter((i) => !readable.has(i) && i !== EOS);
const greedy: SamplingParams = { temperature: 0, top_p: 1, top_k: 0, min_p: 0 };
const textSampling: SamplingParams = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, banned: bannedForText };

async function run(opts: Partial<GenerateOptions>, runner = new CpuRunner(model, 128)) {
  const steps: GenerateStep[] = [];
  const it = generate(runner, tok, { promptIds: prompt, maxTokens: 20, ...opts });
  let r = await it.next();
  while (!r.done) {
    steps.push(r.value);
    r = await it.next();
  }
  return { steps, result: r.value as GenerationResult, runner };
}

/** The slow twin: a fresh full forward over prompt + generated at every step, argmax. */
function greedyByRecompute(n: number): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = model.forward(model.newState(128), seq);
    const id = argmax(logits[logits.length - 1]);
    out.push(id);
    seq.push(id);
  }
  return out;
}

describe('generation loop (CPU runner, tiny random MoE)', () => {
  it('greedy tokens equal a recompute-everything loop; steps carry the text', async () => {
    const { steps, result, runner } = await run({ sampling: greedy, maxTokens: 12 });
    expect(result.tokens).toEqual(greedyByRecompute(12));
    expect(result.finishReason).toBe('length');
    expect(steps.map((s) => s.tokenId)).toEqual(result.tokens);
    expect(steps.map((s) => s.textDelta).join('')).toBe(result.text);
    expect(result.text).toBe(tok.decode(result.tokens));
    // the last sampled token is not run through the model
    expect(runner.length).toBe(prompt.length + 11);
    expect(result.runnerLength).toBe(runner.length);
  });

  it('a seed reproduces the same sample; another seed differs', async () => {
    const a = await run({ sampling: textSampling, seed: 5 });
    const b = await run({ sampling: textSampling, seed: 5 });
    const c = await run({ sampling: textSampling, seed: 6 });
    expect(a.result.tokens).toEqual(b.result.tokens);
    expect(a.result.tokens).not.toEqual(c.result.tokens);
    expect(a.result.seed).toBe(5);
    expect(a.result.text).toMatch(/^[a-z ]+$/);
  });

  it('the pieces match the building blocks run by hand (prefill, decodeNTokens)', async () => {
    const runner = new CpuRunner(model, 128);
    const logits = (await prefill(runner, prompt, 4))!;
    const ids: number[] = [];
    const ctx = { sampling: textSampling, rng: makeRng(9), history: new TokenHistory(prompt), stopIds: new Set<number>() };
    for await (const id of decodeNTokens(runner, logits, 10, ctx)) ids.push(id);
    expect(ids).toEqual((await run({ sampling: textSampling, seed: 9, maxTokens: 10, prefillChunk: 3 })).result.tokens);
  });

  it('stops on a stop id: the id is counted, never turned into text', async () => {
    const free = await run({ sampling: greedy, maxTokens: 12 });
    const k = 5;
    const stopId = free.result.tokens[k];
    const first = free.result.tokens.indexOf(stopId);
    const { result, steps } = await run({ sampling: greedy, maxTokens: 12, stopTokenIds: [stopId] });
    expect(result.finishReason).toBe('stop');
    expect(result.stoppedBy).toEqual({ tokenId: stopId });
    expect(result.tokens).toEqual(free.result.tokens.slice(0, first + 1));
    expect(steps[steps.length - 1].tokenId).toBe(stopId);
    expect(result.text).toBe(tok.decode(result.tokens.slice(0, -1)));
  });

  it('stops on a stop string spanning tokens, without emitting it', async () => {
    const free = await run({ sampling: textSampling, seed: 3, maxTokens: 20 });
    const text = free.result.text;
    const stop = text.slice(6, 10); // four characters, most likely over a token boundary
    const cut = text.indexOf(stop);
    const { result, steps, runner } = await run({ sampling: textSampling, seed: 3, maxTokens: 20, stopStrings: ['zzzz', stop] });
    expect(result.finishReason).toBe('stop');
    expect(result.stoppedBy).toEqual({ string: stop });
    expect(result.text).toBe(text.slice(0, cut));
    for (const s of steps) expect(s.textDelta).not.toContain(stop);
    expect(steps.map((s) => s.textDelta).join('')).toBe(result.text);
    // the token that completed the stop string had already been queued through the model
    expect(runner.length).toBe(prompt.length + result.tokens.length);
  });

  it('held text that never became a stop string is released at the end', async () => {
    const free = await run({ sampling: textSampling, seed: 3, maxTokens: 8 });
    const t = free.result.text;
    const stop = t.slice(-2) + '\u0001'; // its first two characters end the output
    const { result, steps } = await run({ sampling: textSampling, seed: 3, maxTokens: 8, stopStrings: [stop] });
    expect(result.finishReason).toBe('length');
    expect(result.text).toBe(t);
    expect(steps.map((s) => s.textDelta).join('')).toBe(t);
  });

  it('an interrupt ends with finish_reason "abort", before or during decoding', async () => {
    const signal = { aborted: false };
    const runner = new CpuRunner(model, 128);
    const it = generate(runner, tok, { promptIds: prompt, maxTokens: 20, sampling: greedy, signal });
    const seen: GenerateStep[] = [];
    let r = await it.next();
    while (!r.done) {
      seen.push(r.value);
      if (seen.length === 3) signal.aborted = true;
      r = await it.next();
    }
    expect(r.value.finishReason).toBe('abort');
    expect(r.value.tokens.length).toBe(3);
    expect(runner.length).toBe(prompt.length + 3); // the queued forward of token 3 finished
    const pre = await run({ sampling: greedy, signal: { aborted: true } });
    expect(pre.result.finishReason).toBe('abort');
    expect(pre.result.tokens).toEqual([]);
  });

  it('refuses a prompt plus max_tokens beyond the context window', async () => {
    await expect(run({ maxTokens: 200, contextLength: 128 })).rejects.toBeInstanceOf(ContextLengthExceededError);
    await expect(run({ maxTokens: 200 })).rejects.toThrow(/context window of 128 tokens/);
  });

  it('byte-level garbage from a random model still streams to exactly the decoded text', async () => {
    for (const seed of [1, 2, 3]) {
      const { steps, result } = await run({ sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0 }, seed, maxTokens: 24 });
      expect(steps.map((s) => s.textDelta).join('')).toBe(tok.decode(result.tokens));
    }
  });

  it('reports timing stats', async () => {
    const r = await generateAll(new CpuRunner(model, 128), tok, { promptIds: prompt, maxTokens: 6, sampling: greedy });
    expect(r.stats).toMatchObject({ promptTokens: prompt.length, completionTokens: 6 });
    for (const k of ['ttftMs', 'prefillMs', 'decodeMs', 'totalMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond'] as const)
      expect(r.stats[k]).toBeGreaterThan(0);
    expect(r.stats.ttftMs).toBeLessThanOrEqual(r.stats.totalMs);
  });
});
