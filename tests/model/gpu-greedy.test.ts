// GpuRunner.generateGreedy (argmax on the GPU, each token fed back without a CPU round trip, the
// next step queued before the id is read) against HF's greedy continuation, with every expert
// resident and when streaming through both upload paths, and with the simple kernels.

import { afterAll, describe, expect, it } from 'vitest';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { packInMemory } from '../../src/format/pack.ts';
import { createGpuContext, type GpuContext } from '../../src/gpu/device.ts';
import { GpuRunner, type GpuRunnerOptions } from '../../src/model/gpu-runner.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { expected, fixtureDir } from '../helpers/fixtures.ts';

let ctxP: Promise<GpuContext> | null = null;
const gpu = () => (ctxP ??= createGpuContext());
afterAll(async () => (await ctxP)?.destroy());

describe('generateGreedy', () => {
  for (const name of ['gpt_oss', 'minimax', 'minimax_m2', 'qwen3_moe']) {
    it(`${name}: HF's greedy tokens resident, streaming (ring and writeBuffer uploads) and with the simple kernels`, async () => {
      const exp = expected(name);
      const ctx = await gpu();
      const pm = await packInMemory(await HfCheckpoint.open(nodeDir(fixtureDir(name))), { quant: 'f32', denseQuant: 'f32' });
      const runs: [string, Partial<GpuRunnerOptions>][] = [
        ['resident', {}],
        ['simple kernels', { variant: 'simple' }],
        ['fast kernels forced', { variant: 'fast' }],
        ['streaming 25% ring', { expertBudget: 0.25 }],
        ['streaming 25% writeBuffer', { expertBudget: 0.25, expertUpload: 'writeBuffer' }],
      ];
      for (const [label, opts] of runs) {
        // a 5-token chunk size makes the 8-token prompt take two chunks
        const r = await GpuRunner.create(pm, { ctx, maxLen: 64, maxChunk: 5, ...opts });
        try {
          const got = await r.generateGreedy(exp.greedy_prompt, exp.greedy.length, { banned: r.spec.eos_token_id });
          expect(got, label).toEqual(exp.greedy);
          expect(r.length).toBe(exp.greedy_prompt.length + exp.greedy.length - 1);
          if (opts.expertBudget) expect(r.expertCacheStats().misses, label).toBeGreaterThan(0);
        } finally {
          r.dispose();
        }
      }
    });
  }

  it('replayed decode steps (recorded once, position patched) give the tokens of recording every step', async () => {
    const exp = expected('gpt_oss');
    const ctx = await gpu();
    const pm = await packInMemory(await HfCheckpoint.open(nodeDir(fixtureDir('gpt_oss'))), { quant: 'f32', denseQuant: 'f32' });
    const forced = Array.from({ length: 11 }, (_, i) => (i * 37 + 5) % pm.spec.vocab_size);
    const runs: number[][] = [];
    // resident: the whole step is one tape; streaming: tapes per segment (layer, experts, head)
    for (const budget of [undefined, 0.25])
      for (const replay of [false, true]) {
        // 'fast' forces the decode attention kernel (the one replays support) on CPU adapters too
        const r = await GpuRunner.create(pm, { ctx, maxLen: 64, maxChunk: 5, variant: 'fast', replay, expertBudget: budget });
        const label = `budget ${budget ?? 1} replay ${replay}`;
        try {
          let replayed = 0;
          const count = () => (replayed += +r.lastChunkStats.replayed + r.lastChunkStats.replayedSegments);
          const got = await r.generateGreedy(exp.greedy_prompt, exp.greedy.length, { onToken: count });
          expect(got, label).toEqual(exp.greedy);
          if (replay) expect(replayed, label).toBeGreaterThan(0);
          else expect(replayed, label).toBe(0);
          r.reset();
          runs.push(await r.generateGreedy(exp.greedy_prompt.slice(0, 3), 12, { forced }));
        } finally {
          r.dispose();
        }
      }
    for (const got of runs.slice(1)) expect(got).toEqual(runs[0]);
  });
});
