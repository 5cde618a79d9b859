// The "prune to fit" rule, ratio, id and progress, on the embedded default model's manifest
// (16 experts × 6 layers, 52,224-byte expert blobs), and the cost sentences from RESULTS.md.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../format/manifest.ts';
import { prunedCount } from '../../prune/select.ts';
import { expectedCost, relativeCost } from './cost.ts';
import { MIB, OFFER_FACTOR, progressView, prunedModelId, pruneOfferFor } from './offer.ts';

const path = join(import.meta.dirname, '../../../public/models/stories-moe-10m/manifest.json');
const m = parseManifest(readFileSync(path, 'utf8'), path);
const blob = m.expert_layout.bytes;
const L = m.spec.num_hidden_layers;
const E = m.spec.moe.num_experts;
const experts = L * E * blob;

describe('pruneOfferFor', () => {
  it('is not offered without a budget or while the experts need at most 1.5× the budget', () => {
    expect(pruneOfferFor('x', m, 0)).toBeNull();
    expect(pruneOfferFor('x', m, experts)).toBeNull();
    expect(pruneOfferFor('x', m, Math.ceil(experts / OFFER_FACTOR))).toBeNull();
    expect(pruneOfferFor('x', m, Math.ceil(experts / OFFER_FACTOR) - 1)).not.toBeNull();
  });

  it('removes the fewest whole experts per layer that fit the budget', () => {
    for (const keep of [2, 5, 8, 9]) {
      for (const budget of [keep * L * blob, (keep + 1) * L * blob - 1]) {
        const o = pruneOfferFor('stories', m, budget)!;
        expect(o.expertBytes).toBe(experts);
        expect(o.ratio).toBe((E - keep) / E);
        expect(prunedCount(E, 2, o.ratio!)).toBe(E - keep);
        expect(o.estimate!.expertsPerLayer).toEqual({ before: E, after: keep });
        expect(o.estimate!.expertBytes.after).toBe(keep * L * blob);
        expect(o.estimate!.expertBytes.after).toBeLessThanOrEqual(budget);
      }
    }
  });

  it('says when even top-k experts per layer do not fit', () => {
    const o = pruneOfferFor('x', m, 2 * L * blob - 1)!;
    expect(o.ratio).toBeNull();
    expect(o.estimate).toBeNull();
    expect(o.minExpertBytes).toBe(2 * L * blob);
  });
});

describe('ids, progress and cost', () => {
  it('names the pruned model after its source, ratio and method', () => {
    expect(prunedModelId('stories-moe-10m', 0.25, 'reap')).toBe('stories-moe-10m-pruned-25');
    expect(prunedModelId('a/b', 6 / 16, 'frequency')).toBe('a/b-pruned-38-frequency');
  });

  it('maps the library phases onto one increasing bar', () => {
    const seq = [
      progressView({ phase: 'load' }),
      progressView({ phase: 'calibrate', windowsDone: 1, windows: 2, tokensDone: 512 }),
      progressView({ phase: 'calibrate', windowsDone: 2, windows: 2, tokensDone: 986 }),
      progressView({ phase: 'write', layersDone: 3, layers: 6, expertsDone: 36, expertsTotal: 72, bytesWritten: 1 }),
      progressView({ phase: 'write', layersDone: 6, layers: 6, expertsDone: 72, expertsTotal: 72, bytesWritten: 1 }),
    ];
    expect(seq.map((p) => p.phase)).toEqual(['load', 'calibrate', 'calibrate', 'write', 'write']);
    for (let i = 1; i < seq.length; i++) expect(seq[i].fraction).toBeGreaterThan(seq[i - 1].fraction);
    expect(seq.at(-1)!.fraction).toBe(1);
    expect(seq[1].text).toContain('512 tokens');
  });

  it('quotes the measured costs (RESULTS.md) and places the ratio among them', () => {
    expect(relativeCost(1.0878)).toBe('+23%');
    expect(relativeCost(1.1451)).toBe('+30%');
    expect(relativeCost(1.7505)).toBe('2.0×');
    expect(expectedCost(0.25, 'reap')).toContain('+30%');
    expect(expectedCost(0.5, 'frequency')).toContain('2.3×');
    expect(expectedCost(6 / 16, 'reap')).toMatch(/between .*25%.*50%/);
    expect(expectedCost(0.75, 'reap')).toContain('larger loss');
    expect(expectedCost(1 / 16, 'reap')).toContain('smaller loss');
  });

  it('MIB is 2^20', () => expect(MIB).toBe(1048576));
});
