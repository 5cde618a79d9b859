// What pruning costs and saves, for the CLI's JSON and the app's "prune to fit" offer.

import type { Manifest } from '../format/manifest.ts';
import { prunedCount } from './select.ts';
import type { PrunePlan } from './prune.ts';

export interface PruneEstimate {
  ratio: number;
  expertsPerLayer: { before: number; after: number };
  /** all expert blobs */
  expertBytes: { before: number; after: number };
  /** every file of the package (router rows shrink by a few bytes, ignored here) */
  totalBytes: { before: number; after: number };
}

/** Sizes after pruning `ratio` of each layer's experts, from the manifest alone (throws PruneError like prunedCount). */
export function pruneEstimate(m: Manifest, ratio: number): PruneEstimate {
  const s = m.spec;
  const E = s.moe.num_experts;
  const remove = prunedCount(E, s.moe.num_experts_per_tok, ratio);
  const blob = m.expert_layout.bytes;
  const expertBefore = m.experts.reduce((a, x) => a + x.bytes, 0);
  const expertAfter = s.num_hidden_layers * (E - remove) * blob;
  const total = m.files.reduce((a, f) => a + f.bytes, 0);
  return {
    ratio,
    expertsPerLayer: { before: E, after: E - remove },
    expertBytes: { before: expertBefore, after: expertAfter },
    totalBytes: { before: total, after: total - (expertBefore - expertAfter) },
  };
}

/**
 * The smallest ratio (a multiple of 1/E) whose experts fit in `expertBudgetBytes`, or null when
 * even keeping only top-k experts per layer does not fit (or nothing needs pruning: returns 0).
 */
export function ratioToFit(m: Manifest, expertBudgetBytes: number): number | null {
  const s = m.spec;
  const E = s.moe.num_experts;
  const perExpertRow = s.num_hidden_layers * m.expert_layout.bytes; // one expert in every layer
  if (E * perExpertRow <= expertBudgetBytes) return 0;
  const keep = Math.floor(expertBudgetBytes / perExpertRow);
  if (keep < s.moe.num_experts_per_tok) return null;
  return (E - keep) / E;
}

function stats(xs: number[]): { min: number; mean: number; max: number } {
  if (xs.length === 0) return { min: 0, mean: 0, max: 0 };
  return { min: Math.min(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs) };
}

/** Per-layer survivors and saliency statistics of a plan (what `webmoe prune` prints). */
export function planSummary(plan: PrunePlan) {
  return {
    method: plan.method,
    ratio: plan.ratio,
    expertsPerLayer: { before: plan.expertsBefore, after: plan.expertsAfter },
    calibration: plan.calibration,
    layers: plan.kept.map((kept, L) => {
      const sal = plan.saliency[L];
      const total = sal.reduce((a, b) => a + b, 0);
      const removedMass = plan.removed[L].reduce((a, e) => a + sal[e], 0);
      const routed = plan.counts[L].reduce((a, b) => a + b, 0);
      return {
        layer: L,
        kept,
        removed: plan.removed[L],
        saliency: { ...stats(sal), keptMin: Math.min(...kept.map((e) => sal[e])), removedMax: Math.max(...plan.removed[L].map((e) => sal[e])) },
        /** share of the layer's total saliency that the removed experts held */
        removedSaliencyShare: total > 0 ? removedMass / total : 0,
        /** share of calibration routings (token, top-k slot) that went to removed experts */
        removedRoutingShare: routed > 0 ? plan.removed[L].reduce((a, e) => a + plan.counts[L][e], 0) / routed : 0,
      };
    }),
  };
}
