// "Prune to fit": when is it offered, with what ratio, under what id, and how its progress reads.
//
//   offered when   expert budget > 0  and  all expert blobs > OFFER_FACTOR × budget
//   ratio          ratioToFit: the fewest experts removed per layer so that the survivors fit the
//                  budget (whole experts: E − floor(budget / (L · blob)) of E)
//   id             <model>-pruned-<percent>[-frequency], next to the original in the store
//
// Below OFFER_FACTOR the GPU expert cache streams the experts that do not fit (a few misses per
// token), which costs speed but no quality; pruning costs quality, so it is only suggested when
// streaming would miss most of the time.

import type { Manifest } from '../../format/manifest.ts';
import { pruneEstimate, ratioToFit, type PruneEstimate } from '../../prune/summary.ts';
import type { PruneMethod } from '../../prune/saliency.ts';
import type { PruneProgress } from '../../prune/prune.ts';

/** Experts must exceed the budget by more than this factor for the offer to appear. */
export const OFFER_FACTOR = 1.5;

export const MIB = 1024 * 1024;

/** "4.78 MiB", "41.2 MiB", "412 MiB" */
export function mib(bytes: number): string {
  const m = bytes / MIB;
  return `${m < 10 ? m.toFixed(2) : m < 100 ? m.toFixed(1) : Math.round(m)} MiB`;
}

export interface PruneOffer {
  modelId: string;
  /** all expert blobs of the model, bytes */
  expertBytes: number;
  budgetBytes: number;
  /** experts per layer (E) and the model's top-k */
  experts: number;
  topK: number;
  layers: number;
  /** smallest whole-expert ratio that fits; null: even top-k experts per layer do not fit */
  ratio: number | null;
  /** sizes after pruning `ratio` (null with ratio) */
  estimate: PruneEstimate | null;
  /** expert bytes with only top-k experts per layer (the most pruning can save) */
  minExpertBytes: number;
}

/** The offer for a model and an expert budget, or null when none is due (no budget, or it fits well enough). */
export function pruneOfferFor(modelId: string, m: Manifest, budgetBytes: number): PruneOffer | null {
  if (!(budgetBytes > 0)) return null;
  const expertBytes = m.experts.reduce((a, x) => a + x.bytes, 0);
  if (expertBytes <= OFFER_FACTOR * budgetBytes) return null;
  const s = m.spec;
  const ratio = ratioToFit(m, budgetBytes);
  return {
    modelId,
    expertBytes,
    budgetBytes,
    experts: s.moe.num_experts,
    topK: s.moe.num_experts_per_tok,
    layers: s.num_hidden_layers,
    ratio: ratio === null || ratio === 0 ? null : ratio,
    estimate: ratio === null || ratio === 0 ? null : pruneEstimate(m, ratio),
    minExpertBytes: s.num_hidden_layers * s.moe.num_experts_per_tok * m.expert_layout.bytes,
  };
}

/** Store id of the pruned model: `<id>-pruned-25`, `<id>-pruned-38-frequency`. */
export function prunedModelId(modelId: string, ratio: number, method: PruneMethod): string {
  return `${modelId}-pruned-${Math.round(ratio * 100)}${method === 'reap' ? '' : `-${method}`}`;
}

export type PrunePhase = PruneProgress['phase'] | 'start';

export interface PruneProgressView {
  phase: PrunePhase;
  /** 0..1 of the whole job */
  fraction: number;
  text: string;
}

// share of the bar each phase takes (calibration dominates: a forward pass per token)
const BAND: Record<PrunePhase, [number, number]> = { start: [0, 0.02], load: [0.02, 0.1], calibrate: [0.1, 0.85], write: [0.85, 1] };

/** The library's progress as one bar over the three phases. */
export function progressView(p: PruneProgress): PruneProgressView {
  const [a, b] = BAND[p.phase];
  switch (p.phase) {
    case 'load':
      return { phase: 'load', fraction: a, text: 'Loading the model on the CPU' };
    case 'calibrate': {
      const f = p.windows > 0 ? p.windowsDone / p.windows : 0;
      return { phase: 'calibrate', fraction: a + (b - a) * f, text: `Scoring experts on the calibration text: ${p.tokensDone} tokens (window ${p.windowsDone} of ${p.windows})` };
    }
    case 'write': {
      const f = p.expertsTotal > 0 ? p.expertsDone / p.expertsTotal : 0;
      return { phase: 'write', fraction: a + (b - a) * f, text: `Writing the pruned model: ${p.expertsDone} of ${p.expertsTotal} experts, layer ${p.layersDone} of ${p.layers}` };
    }
  }
}

export const START_PROGRESS: PruneProgressView = { phase: 'start', fraction: 0, text: 'Starting the pruning worker' };
