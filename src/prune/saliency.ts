// Expert saliency from calibration data, through the CPU reference's route observer.
//
// For every (layer, token) the observer sees the router's choice {experts, weights} and the MoE
// input h2; the expert outputs f_j(h2) are recomputed here with expertForward (the reference
// computes them again for the residual: calibration costs about twice the MoE work).
//
//   frequency:  S_j = |X_j| / |X|              X_j = calibration tokens whose top-k holds j
//   reap:       S_j = (1 / |X_j|) sum_{x in X_j} g_j(x) * ||f_j(x)||_2       (0 when X_j is empty)
//
// g_j(x) is the gate the model applies to expert j's output for token x: after the family's
// scoring (softmax | sigmoid | softmax over the top-k logits), top-k renormalization and the
// routed scaling factor (a constant factor that changes no ranking). This is REAP (Lasby et al.,
// arXiv 2510.13999): router-weighted expert activation norm averaged over the tokens routed to
// the expert.

import type { ReferenceModel, RouteObserver } from '../reference/forward.ts';
import { expertForward } from '../reference/moe.ts';
import { PruneError } from './errors.ts';

export type PruneMethod = 'reap' | 'frequency';
export const PRUNE_METHODS: PruneMethod[] = ['reap', 'frequency'];

export interface ExpertStats {
  /** calibration tokens routed (per layer; every layer sees every token) */
  tokens: number;
  /** (L, E) how many tokens had expert j in their top-k */
  count: Float64Array[];
  /** (L, E) sum over those tokens of g_j(x) * ||f_j(x)||_2 */
  gateNormSum: Float64Array[];
}

export interface CalibrationProgress {
  windowsDone: number;
  windows: number;
  tokensDone: number;
}

/**
 * Calibration token windows of at most `ctx` ids, each starting with `prefix` (BOS for text;
 * nothing for explicit ids), every id used once.
 */
export function calibrationWindows(ids: number[], ctx: number, prefix: number[] = []): number[][] {
  const body = ctx - prefix.length;
  if (!Number.isInteger(ctx) || body < 1) throw new PruneError(`calibration window of ${ctx} tokens is too short`);
  const out: number[][] = [];
  for (let s = 0; s < ids.length; s += body) out.push([...prefix, ...ids.slice(s, s + body)]);
  return out;
}

/** Run the model over the windows (fresh state each) and accumulate per-expert statistics. */
export function collectExpertStats(model: ReferenceModel, windows: number[][], onProgress?: (p: CalibrationProgress) => void): ExpertStats {
  const s = model.spec;
  const nL = s.num_hidden_layers;
  const E = s.moe.num_experts;
  const D = s.hidden_size;
  const tokens = windows.reduce((a, w) => a + w.length, 0);
  if (tokens === 0) throw new PruneError('the calibration data has no tokens; give a longer text or more token ids');
  const stats: ExpertStats = {
    tokens,
    count: Array.from({ length: nL }, () => new Float64Array(E)), // (L, E)
    gateNormSum: Array.from({ length: nL }, () => new Float64Array(E)), // (L, E)
  };
  const observer: RouteObserver = (L, _pos, routing, _logits, h2) => {
    for (let i = 0; i < routing.experts.length; i++) {
      const e = routing.experts[i];
      const y = expertForward(s.moe, model.experts[L][e], h2, D); // (D)
      let sq = 0;
      for (let d = 0; d < D; d++) sq += y[d] * y[d];
      stats.count[L][e] += 1;
      stats.gateNormSum[L][e] += routing.weights[i] * Math.sqrt(sq);
    }
  };
  const prev = model.observer;
  model.observer = observer;
  let done = 0;
  try {
    for (let w = 0; w < windows.length; w++) {
      const win = windows[w];
      if (win.length === 0) continue;
      model.forward(model.newState(win.length), win);
      done += win.length;
      onProgress?.({ windowsDone: w + 1, windows: windows.length, tokensDone: done });
    }
  } finally {
    model.observer = prev;
  }
  return stats;
}

/** Saliency (L, E) of a method: higher = keep. */
export function saliencyOf(stats: ExpertStats, method: PruneMethod): Float64Array[] {
  if (method === 'frequency') return stats.count.map((c) => Float64Array.from(c, (n) => n / stats.tokens));
  if (method === 'reap') return stats.count.map((c, L) => Float64Array.from(c, (n, e) => (n > 0 ? stats.gateNormSum[L][e] / n : 0)));
  throw new PruneError(`unknown pruning method "${method}"; use ${PRUNE_METHODS.join(' or ')}`);
}
