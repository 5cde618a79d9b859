// Prefill tiles chosen end to end, like decode-tune.ts for decode: the matmul sweep times one
// 2880 x 2880 product, but a prefill runs grouped expert tiles whose fill depends on how many
// tokens each expert gets, and dense products whose grids may be shorter than the GPU is wide.
// Each knob (the experts' tile size, the dense products' tile size) is tried in turn with whole
// prefills of the bench prompt, keeping the fastest. (Smaller dense tiles wherever a grid is
// shorter than the GPU is wide lost in every H100 run and are not a knob.) With packed integer
// products (matmul-dp.wgsl) its slots a thread and threads along rows are knobs too; its digit planes
// are a precision setting, not a knob: the other settings are timed and reported, not chosen.

import { matmulTuning } from '../src/kernels/matvec/matmul-tiled.ts';
import { dpTuning } from '../src/kernels/matvec/matmul-dp.ts';
import type { GpuRunner } from '../src/model/gpu-runner.ts';

export interface PrefillTuneResult {
  start_tok_s: number;
  tok_s: number;
  tried: { knob: string; value: number; tok_s: number }[];
  chosen: { grouped: number; bt: number; dp_nx: Record<number, number>; dp_slots: number; digits: number };
  /** prefill tok/s at each digit setting (0: f32 products), the chosen tiles otherwise */
  by_digits: Record<number, number>;
}

/** Tune matmulTuning.grouped and .bt for `r`'s prefill of `prompt` in place. */
export async function tunePrefill(r: GpuRunner, prompt: number[], log: (s: string) => void, deadline: number): Promise<PrefillTuneResult> {
  const time = async (): Promise<number> => {
    let best = 0;
    for (let k = 0; k < 3; k++) {
      // the first run of a new tile compiles its pipelines: best of three
      r.reset();
      const t0 = performance.now();
      await r.forward(prompt);
      best = Math.max(best, (prompt.length / (performance.now() - t0)) * 1000);
    }
    return best;
  };
  const tried: PrefillTuneResult['tried'] = [];
  const start = await time();
  let bestTok = start;
  if (dpTuning.digits) {
    const keepSlots = dpTuning.slots;
    let bestSlots = keepSlots;
    for (const slots of [4, 8] as const) {
      if (slots === keepSlots || performance.now() > deadline) continue;
      dpTuning.slots = slots;
      const tok = await time();
      tried.push({ knob: 'dp_slots', value: slots, tok_s: tok });
      log(`    prefill dp slots ${slots}: ${tok.toFixed(0)} tok/s`);
      if (tok > bestTok) [bestTok, bestSlots] = [tok, slots];
    }
    dpTuning.slots = bestSlots;
    const keep = { ...dpTuning.nx };
    let bestNx = keep;
    for (const nx of [8, 16]) {
      if (performance.now() > deadline) break;
      dpTuning.nx = Object.fromEntries(Object.keys(keep).map((bt) => [bt, nx]));
      const tok = await time();
      tried.push({ knob: 'dp_nx', value: nx, tok_s: tok });
      log(`    prefill dp nx ${nx}: ${tok.toFixed(0)} tok/s`);
      if (tok > bestTok) [bestTok, bestNx] = [tok, dpTuning.nx];
    }
    dpTuning.nx = bestNx;
  }
  const knobs: ['grouped' | 'bt', number[]][] = [
    ['grouped', [0, 32, 64, 128]],
    ['bt', [64, 128]],
  ];
  for (const [knob, values] of knobs) {
    const keep = matmulTuning[knob];
    let bestValue = keep;
    for (const v of values) {
      if (v === keep || performance.now() > deadline) continue;
      matmulTuning[knob] = v;
      const tok = await time();
      tried.push({ knob, value: v, tok_s: tok });
      log(`    prefill ${knob} ${v}: ${tok.toFixed(0)} tok/s`);
      if (tok > bestTok) [bestTok, bestValue] = [tok, v];
    }
    matmulTuning[knob] = bestValue;
  }
  const chosen = { grouped: matmulTuning.grouped, bt: matmulTuning.bt, dp_nx: { ...dpTuning.nx }, dp_slots: dpTuning.slots, digits: dpTuning.digits };
  log(`  prefill tiles: ${start.toFixed(0)} -> ${bestTok.toFixed(0)} tok/s with ${JSON.stringify(chosen)}`);
  const by_digits: Record<number, number> = { [dpTuning.digits]: bestTok };
  const setting = dpTuning.digits;
  for (const d of [0, 1, 2] as const) {
    if (d === setting || performance.now() > deadline) continue;
    dpTuning.digits = d;
    by_digits[d] = await time();
    log(`    prefill with ${d} digit planes${d ? '' : ' (f32 products)'}: ${by_digits[d].toFixed(0)} tok/s`);
  }
  dpTuning.digits = setting;
  return { start_tok_s: start, tok_s: bestTok, tried, chosen, by_digits };
}
