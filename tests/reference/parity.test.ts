// The CPU reference against HF transformers' own outputs on every fixture family and layout.

import { describe, expect, it } from 'vitest';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { ReferenceModel, greedy } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { expected, fixtureDir, fixtureNames, relError } from '../helpers/fixtures.ts';

const names = fixtureNames();

describe('CPU reference vs HF transformers', () => {
  it('has fixtures for every family', () => {
    const families = new Set(names.map((n) => expected(n).family));
    for (const f of ['minimax_m2', 'gpt_oss', 'minimax', 'qwen3_moe', 'mixtral', 'olmoe']) expect(families).toContain(f);
    const layouts = new Set(names.map((n) => expected(n).layout));
    for (const l of ['hf-saved', 'fused', 'released-fp8', 'released-mxfp4']) expect(layouts).toContain(l);
  });

  for (const name of names) {
    describe(name, () => {
      const exp = expected(name);
      const load = async () => ReferenceModel.load(await HfCheckpoint.open(nodeDir(fixtureDir(name))));

      it('logits of every position within 1e-4 relative of HF', async () => {
        const m = await load();
        const logits = m.forward(m.newState(exp.tokens.length), exp.tokens);
        expect(relError(logits, exp.logits)).toBeLessThan(1e-4);
      });

      it('greedy continuation identical to HF (EOS masked)', async () => {
        const m = await load();
        const out = greedy(m, exp.greedy_prompt, exp.greedy.length, { eos: m.spec.eos_token_id, ignoreEos: true });
        expect(out).toEqual(exp.greedy);
      });

      it('prefill then token-by-token decode equals one full forward', async () => {
        const m = await load();
        const full = m.forward(m.newState(exp.tokens.length), exp.tokens);
        const st = m.newState(exp.tokens.length);
        const split = 13; // not a multiple of any window or block size
        const parts = [...m.forward(st, exp.tokens.slice(0, split))];
        for (const t of exp.tokens.slice(split)) parts.push(...m.forward(st, [t]));
        expect(relError(parts, full)).toBeLessThan(1e-5);
      });
    });
  }
});
