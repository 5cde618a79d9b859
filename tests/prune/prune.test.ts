// Expert pruning on every fixture family: counts, bytes, and logits equal to the original model
// with the removed experts masked out of its router; determinism; the REAP criterion itself.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeSink } from '../../src/cli/convert.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { openPackage } from '../../src/format/package.ts';
import { packageInfo } from '../../src/format/package-info.ts';
import { planPrune, prunePackage, pruneEstimate, ratioToFit, writePruned, chooseSurvivors, prunedCount, collectExpertStats, saliencyOf, PruneError } from '../../src/prune/index.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { fixtureDir, fixtureNames } from '../helpers/fixtures.ts';
import { removeScratch, scratchDir } from '../package/tiny-checkpoint.ts';
import { fixturePackage, maskedModel, routedExperts } from './helpers.ts';

afterAll(removeScratch);

const CAL = Array.from({ length: 96 }, (_, i) => (i * 37 + 11) % 256); // calibration ids
const PROBE = [1, 17, 42, 5, 88, 3, 60, 9, 31, 70, 200, 128]; // evaluation ids (not the calibration ones)

function listFiles(dir: string, sub = ''): string[] {
  return readdirSync(join(dir, sub), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? listFiles(dir, join(sub, d.name)) : [join(sub, d.name)])).sort();
}

describe('pruned package = original with the removed experts masked out of the router', () => {
  for (const name of fixtureNames()) {
    it(name, async () => {
      const { pkg } = await fixturePackage(name);
      const spec = pkg.spec;
      const L = spec.num_hidden_layers;
      const E = spec.moe.num_experts;
      const original = await ReferenceModel.load(pkg.weights());
      for (const ratio of [0.25, 0.5]) {
        const out = scratchDir('pruned');
        const { plan, manifest } = await prunePackage(pkg, nodeSink(out), { ratio, calibration: { tokens: CAL }, model: original });
        const pruned = await openPackage(nodeDir(out));
        // counts: L x E x (1 - R) experts, spec and inspect agree
        expect(manifest.experts).toHaveLength(L * E * (1 - ratio));
        expect(pruned.spec.moe.num_experts).toBe(E * (1 - ratio));
        expect(pruned.spec.moe.num_experts_per_tok).toBe(spec.moe.num_experts_per_tok);
        expect(packageInfo(pruned.manifest)).toMatchObject({ experts: L * E * (1 - ratio), expertsPerLayer: E * (1 - ratio), layers: L });
        expect(plan.kept.every((k, l) => k.length + plan.removed[l].length === E && k.every((e) => !plan.removed[l].includes(e)))).toBe(true);
        // expert blobs are the survivors' bytes, renumbered
        for (let l = 0; l < L; l++)
          for (let e = 0; e < plan.expertsAfter; e++) expect(await pruned.expertBlob(l, e)).toEqual(await pkg.expertBlob(l, plan.kept[l][e]));
        // router rows (and biases) are the survivors'
        const D = spec.hidden_size;
        const router = new Float32Array((await pruned.dense('layers.0.router')).data.slice().buffer);
        const full = new Float32Array((await pkg.dense('layers.0.router')).data.slice().buffer);
        plan.kept[0].forEach((e, i) => expect(router.subarray(i * D, (i + 1) * D)).toEqual(full.subarray(e * D, (e + 1) * D)));
        // logits: the pruned package equals the masked original, bit for bit
        const masked = maskedModel(original, plan.removed);
        const pm = await ReferenceModel.load(pruned.weights());
        const a = pm.forward(pm.newState(PROBE.length), PROBE);
        const b = masked.forward(masked.newState(PROBE.length), PROBE);
        expect(a).toEqual(b);
        // and the masking mattered: the original routes the probe to some removed expert
        const used = routedExperts(original, PROBE);
        expect(plan.removed.some((r, l) => r.some((e) => used[l].has(e)))).toBe(true);
      }
    });
  }
});

describe('pruning', () => {
  it('is deterministic: same files, same bytes', async () => {
    const { pkg } = await fixturePackage('minimax_m2');
    const dirs = [scratchDir('det'), scratchDir('det')];
    for (const d of dirs) await prunePackage(pkg, nodeSink(d), { ratio: 0.5, calibration: { tokens: CAL } });
    const files = listFiles(dirs[0]);
    expect(listFiles(dirs[1])).toEqual(files);
    for (const f of files) expect(readFileSync(join(dirs[1], f)).equals(readFileSync(join(dirs[0], f))), f).toBe(true);
  });

  it('frequency and reap both run; frequency keeps the most routed experts', async () => {
    const { pkg } = await fixturePackage('qwen3_moe');
    const model = await ReferenceModel.load(pkg.weights());
    const reap = await planPrune(pkg, { ratio: 0.5, method: 'reap', calibration: { tokens: CAL }, model });
    const freq = await planPrune(pkg, { ratio: 0.5, method: 'frequency', calibration: { tokens: CAL }, model });
    expect(reap.counts).toEqual(freq.counts);
    freq.kept.forEach((k, l) => {
      const c = freq.counts[l];
      expect(freq.saliency[l]).toEqual(c.map((n) => n / CAL.length));
      expect(Math.min(...k.map((e) => c[e]))).toBeGreaterThanOrEqual(Math.max(...freq.removed[l].map((e) => c[e])));
      expect(c.reduce((x, y) => x + y, 0)).toBe(CAL.length * pkg.spec.moe.num_experts_per_tok);
    });
    const sal = reap.saliency.flat();
    expect(sal.every((s) => s >= 0 && Number.isFinite(s))).toBe(true);
  });

  it('REAP saliency is gate x output norm: scaling an expert output by c scales its saliency by c, not its frequency', async () => {
    // last layer: its own experts' outputs do not change its routing, so only expert j's norm moves
    const hf = await HfCheckpoint.open(nodeDir(fixtureDir('mixtral')));
    const m = await ReferenceModel.load(hf);
    const last = m.spec.num_hidden_layers - 1;
    const before = collectExpertStats(m, [CAL]);
    const j = before.count[last].indexOf(Math.max(...before.count[last])); // the most routed expert
    const w = m.experts[last][j];
    const scaled = m.experts.map((row, l) => (l === last ? row.map((x, e) => (e === j ? { ...w, down: Float32Array.from(w.down, (v) => v * 4) } : x)) : row));
    const m2 = new ReferenceModel(m.spec, m.globals, m.layers, scaled);
    const after = collectExpertStats(m2, [CAL]);
    expect(after.count).toEqual(before.count);
    expect(before.count[last][j]).toBeGreaterThan(0);
    const r0 = saliencyOf(before, 'reap')[last];
    const r1 = saliencyOf(after, 'reap')[last];
    expect(r1[j] / r0[j]).toBeCloseTo(4, 5);
    for (let e = 0; e < r0.length; e++) if (e !== j) expect(r1[e]).toBeCloseTo(r0[e], 10);
    expect(saliencyOf(after, 'frequency')).toEqual(saliencyOf(before, 'frequency'));
  });

  it('survivors: lowest saliency goes, ties by expert index, same count per layer', () => {
    const { kept, removed } = chooseSurvivors([[0.5, 0.1, 0.1, 0.9], [0, 0, 0, 0], [NaN, 2, 1, 3]], 2);
    expect(kept).toEqual([[0, 3], [0, 1], [1, 3]]);
    expect(removed).toEqual([[1, 2], [2, 3], [0, 2]]);
    expect(prunedCount(8, 2, 0.25)).toBe(2);
    expect(prunedCount(256, 8, 0.3)).toBe(77);
    for (const [E, K, r] of [[8, 2, 0], [8, 2, 1], [8, 2, 0.9], [8, 2, 0.01], [8, 2, NaN]] as const) expect(() => prunedCount(E, K, r), `${E} ${K} ${r}`).toThrow(PruneError);
  });

  it('a pruned package pruned again records the original indices; estimates match what is written', async () => {
    const { pkg } = await fixturePackage('olmoe');
    const est = pruneEstimate(pkg.manifest, 0.5);
    const d1 = scratchDir('p1');
    const first = await prunePackage(pkg, nodeSink(d1), { ratio: 0.5, calibration: { tokens: CAL } });
    expect(est.expertBytes.after).toBe(packageInfo(first.manifest).expertBytes);
    expect(est.expertsPerLayer).toEqual({ before: 8, after: 4 });
    const p1 = await openPackage(nodeDir(d1));
    const d2 = scratchDir('p2');
    const second = await prunePackage(p1, nodeSink(d2), { ratio: 0.5, calibration: { tokens: CAL } });
    const src = second.manifest.source as unknown as { pruned: { kept: number[][]; kept_original: number[][] } };
    expect(src.pruned.kept_original).toEqual(second.plan.kept.map((row, l) => row.map((e) => first.plan.kept[l][e])));
    const p2 = await openPackage(nodeDir(d2));
    expect(await p2.expertBlob(1, 1)).toEqual(await pkg.expertBlob(1, src.pruned.kept_original[1][1]));
    // fit: a budget of 5 experts per layer needs 3/8 removed; 1 per layer is below top-k
    const row = pkg.spec.num_hidden_layers * pkg.manifest.expert_layout.bytes;
    expect(ratioToFit(pkg.manifest, 5 * row)).toBe(3 / 8);
    expect(ratioToFit(pkg.manifest, 8 * row)).toBe(0);
    expect(ratioToFit(pkg.manifest, 1 * row)).toBeNull();
  });

  it('refuses what cannot be done, with PruneError', async () => {
    const { pkg } = await fixturePackage('gpt_oss');
    await expect(planPrune(pkg, { ratio: 0.9, calibration: { tokens: CAL } })).rejects.toThrow(/fewer than top-k = 2; the largest ratio for this model is 0.7500/);
    await expect(planPrune(pkg, { ratio: 0.5, calibration: { tokens: [] } })).rejects.toThrow(PruneError);
    await expect(planPrune(pkg, { ratio: 0.5, calibration: { tokens: [1, 256] } })).rejects.toThrow(/outside the vocabulary/);
    await expect(planPrune(pkg, { ratio: 0.5, calibration: { text: 'hello' } })).rejects.toThrow(/no tokenizer.json/);
    const plan = await planPrune(pkg, { ratio: 0.5, calibration: { tokens: CAL } });
    await expect(writePruned(pkg, { ...plan, kept: plan.kept.map((k, l) => (l === 1 ? k.slice(1) : k)) }, nodeSink(scratchDir('bad')))).rejects.toThrow(/every layer must keep the same number/);
  });
});
