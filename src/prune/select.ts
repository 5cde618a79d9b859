// Which experts survive: in every layer, remove the `remove` experts of lowest saliency. The same
// count in every layer (one num_experts in the spec). Deterministic: ties in saliency are broken
// by expert index (of two equal experts the higher index goes first), NaN counts as lowest.

import { PruneError } from './errors.ts';

export interface Survivors {
  /** (L, E') surviving original expert indices per layer, ascending: new index e' -> old kept[L][e'] */
  kept: number[][];
  /** (L, E - E') removed original indices per layer, ascending */
  removed: number[][];
}

/**
 * Experts to remove per layer for a ratio: round(ratio * E). Throws PruneError when that removes
 * nothing or leaves fewer than top-k experts (the router must still find k experts per token).
 */
export function prunedCount(numExperts: number, topK: number, ratio: number): number {
  if (!(ratio > 0 && ratio < 1)) throw new PruneError(`the pruning ratio must be in (0, 1), got ${ratio}`);
  const remove = Math.round(ratio * numExperts);
  const maxRatio = (numExperts - topK) / numExperts;
  if (remove < 1) throw new PruneError(`ratio ${ratio} of ${numExperts} experts removes none; use a ratio of at least ${(0.5 / numExperts).toFixed(4)}`);
  if (numExperts - remove < topK)
    throw new PruneError(
      `ratio ${ratio} leaves ${numExperts - remove} of ${numExperts} experts per layer, fewer than top-k = ${topK}; ` +
        `the largest ratio for this model is ${maxRatio.toFixed(4)}`,
    );
  return remove;
}

/** saliency (L, E): higher = more important. */
export function chooseSurvivors(saliency: ArrayLike<number>[], remove: number): Survivors {
  const kept: number[][] = [];
  const removed: number[][] = [];
  for (const s of saliency) {
    const E = s.length;
    if (!Number.isInteger(remove) || remove < 0 || remove >= E) throw new PruneError(`cannot remove ${remove} of ${E} experts`);
    const key = (e: number) => (Number.isNaN(s[e]) ? -Infinity : s[e]);
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => key(a) - key(b) || b - a); // removal order
    const out = new Set(order.slice(0, remove));
    kept.push(order.filter((e) => !out.has(e)).sort((a, b) => a - b));
    removed.push([...out].sort((a, b) => a - b));
  }
  return { kept, removed };
}
