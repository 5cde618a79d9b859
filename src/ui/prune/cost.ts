// What pruning costs, in words, from the measurements in tools/train/RESULTS.md ("Pruning"):
// the default model (stories-moe-10m, 16 experts per layer, top-2), bits per byte on the first
// 32 KB of the TinyStories validation text, lower is better. The app calibrates on the built-in
// 2 KB text, so those are the numbers it quotes; the 16 KB training-text calibration is given for
// REAP too. Other models differ: many unevenly used experts prune more cheaply than this model's
// 16 evenly used ones.

import type { PruneMethod } from '../../prune/saliency.ts';

export interface MeasuredPoint {
  /** fraction of experts removed */
  ratio: number;
  /** bits per byte with the built-in calibration text */
  bpb: number;
  /** bits per byte with 16 KB of training text as calibration (REAP only quoted) */
  bpbTrainCalibration: number;
}

export const MEASURED = {
  model: 'stories-moe-10m',
  expertsPerLayer: 16,
  unprunedBpb: 0.8815,
  reap: [
    { ratio: 0.25, bpb: 1.1451, bpbTrainCalibration: 1.0878 },
    { ratio: 0.5, bpb: 1.7505, bpbTrainCalibration: 1.7685 },
  ],
  frequency: [
    { ratio: 0.25, bpb: 1.3198, bpbTrainCalibration: 1.2991 },
    { ratio: 0.5, bpb: 2.0333, bpbTrainCalibration: 2.0587 },
  ],
} as const satisfies { model: string; expertsPerLayer: number; unprunedBpb: number } & Record<PruneMethod, readonly MeasuredPoint[]>;

/** "+30%" or "2.0×": bits per byte relative to the unpruned model. */
export function relativeCost(bpb: number): string {
  const r = bpb / MEASURED.unprunedBpb;
  return r >= 1.75 ? `${r.toFixed(1)}×` : `+${Math.round((r - 1) * 100)}%`;
}

const pct = (r: number) => `${Math.round(r * 100)}%`;

/** Where `ratio` falls among the measured points of `method`, in one sentence. */
export function expectedCost(ratio: number, method: PruneMethod): string {
  const pts = MEASURED[method];
  const near = pts.find((p) => Math.abs(p.ratio - ratio) < 0.02);
  const name = method === 'reap' ? 'REAP' : 'frequency';
  if (near) return `Your choice, ${pct(ratio)} with ${name}, was measured: ${relativeCost(near.bpb)} bits per byte on that model.`;
  const lo = pts[0];
  const hi = pts[pts.length - 1];
  if (ratio < lo.ratio) return `You remove ${pct(ratio)}, less than the measured ${pct(lo.ratio)} (${relativeCost(lo.bpb)} with ${name}): expect a smaller loss.`;
  if (ratio > hi.ratio) return `You remove ${pct(ratio)}, more than the measured ${pct(hi.ratio)} (${relativeCost(hi.bpb)} with ${name}): expect a larger loss.`;
  return `You remove ${pct(ratio)}, between the measured ${pct(lo.ratio)} (${relativeCost(lo.bpb)}) and ${pct(hi.ratio)} (${relativeCost(hi.bpb)}) with ${name}.`;
}
