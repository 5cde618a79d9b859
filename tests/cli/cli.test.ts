// The CLI contract: machine-readable stdout, human messages on stderr, non-zero exit on bad input.

import { webmoe } from '../helpers/cli.ts';
import { describe, expect, it } from 'vitest';
import { expected, fixtureDir, relError } from '../helpers/fixtures.ts';



describe('webmoe CLI (cpu backend)', () => {
  it('logits: one row per input position, equal to HF', async () => {
    const exp = expected('gpt_oss');
    const r = await webmoe(['logits', '--model', fixtureDir('gpt_oss'), '--tokens', exp.tokens.join(','), '--backend', 'cpu']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.logits).toHaveLength(exp.tokens.length);
    expect(relError(out.logits, exp.logits)).toBeLessThan(1e-4);
  });

  it('generate --temperature 0 --ignore-eos returns only the generated ids, equal to HF greedy', async () => {
    const exp = expected('minimax');
    const r = await webmoe([
      'generate', '--model', fixtureDir('minimax'), '--tokens', exp.greedy_prompt.join(','),
      '--max-tokens', String(exp.greedy.length), '--temperature', '0', '--ignore-eos', '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokens).toEqual(exp.greedy);
    expect(out.stats.generatedTokens).toBe(exp.greedy.length);
  });

  it('sampling with a seed is reproducible', async () => {
    const args = ['generate', '--model', fixtureDir('qwen3_moe'), '--tokens', '1,5,9', '--max-tokens', '8', '--temperature', '1', '--seed', '7', '--json'];
    const a = JSON.parse((await webmoe(args)).stdout);
    const b = JSON.parse((await webmoe(args)).stdout);
    expect(a.tokens).toEqual(b.tokens);
  });

  it('bad input exits non-zero with a message on stderr and nothing on stdout', async () => {
    for (const args of [
      ['logits', '--model', '/nonexistent', '--tokens', '1'],
      ['logits', '--model', fixtureDir('mixtral'), '--tokens', '1,x'],
      ['logits', '--model', fixtureDir('mixtral'), '--tokens', '1,99999'],
      ['generate', '--model', fixtureDir('mixtral'), '--tokens', '1', '--temperature', '-1', '--json'],
      ['generate', '--model', fixtureDir('mixtral'), '--prompt', 'hi', '--json'],
      ['frobnicate'],
    ]) {
      const r = await webmoe(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.length).toBeGreaterThan(10);
      expect(r.stderr).not.toMatch(/internal error/);
    }
  });
});
