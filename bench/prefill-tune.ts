// Prefill tiles chosen end to end, like decode-tune.ts for decode: the matmul sweep times one
// 2880 x 2880 product, but a prefill runs grouped expert tiles whose fill depends on how many
// tokens each expert gets, and dense products whose grids may be shorter than the GPU is wide.
// Each knob (the experts' tile size, the dense products' tile size) is tried in turn with whole
// prefills of the bench prompt, keeping the fastest. (Smaller dense tiles wherever a grid is
// shorter than the GPU is wide lost in every H100 run and are not a knob.) With packed integer
// products (matmul-dp.wgsl) its slots a thread and threads along rows are knobs too; where the
// device has i8 subgroup matrices and their kernel passed its device check (mma-check.ts),
// matmul-mma.wgsl on / off and its subgroups a workgroup are knobs, and both routes are timed at 1
// and 2 planes, alternating. Where the device has f16 subgroup matrices and their kernel passed
// its check, matmul-hmma.wgsl on / off, its row blocks and its dense tokens a tile are knobs, and
// it is timed against the 2-plane packed dot products, alternating. The digit planes are a
// precision setting, not a knob: the other settings are timed and reported, not chosen.

import { matmulTuning } from '../src/kernels/matvec/matmul-tiled.ts';
import { dpTuning } from '../src/kernels/matvec/matmul-dp.ts';
import { mmaTuning } from '../src/kernels/matvec/matmul-mma.ts';
import { hmmaTuning } from '../src/kernels/matvec/matmul-hmma.ts';
import { hmmaChecked, mmaChecked } from './mma-check.ts';
import type { GpuRunner } from '../src/model/gpu-runner.ts';

export interface PrefillTuneResult {
  start_tok_s: number;
  tok_s: number;
  tried: { knob: string; value: number; tok_s: number }[];
  chosen: {
    grouped: number; bt: number; dp_nx: Record<number, number>; dp_slots: number; digits: number; mma: boolean; mma_subgroups: number; mma_row_blocks: number;
    hmma: boolean; hmma_row_blocks: number; hmma_token_blocks: number;
  };
  /** prefill tok/s at each digit setting (0: f32 products), the chosen tiles otherwise */
  by_digits: Record<number, number>;
  /** where subgroup matrices run: prefill tok/s at 1 and 2 digit planes on each route, alternating (best of two) */
  by_route?: { mma: Record<number, number>; dp: Record<number, number> };
  /** where f16 subgroup matrices run: prefill tok/s with them and with the 2-plane packed dot products, alternating (best of two) */
  hmma_vs_dp?: { hmma: number; dp: number };
}

/** Tune the prefill knobs (dpTuning.slots and .nx where the integer products run, matmulTuning.grouped and .bt) for `r`'s prefill of `prompt` in place. */
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
  // whole prefills under each setting in turn, alternating twice (an H100 has shown slow
  // stretches of seconds): the best of each; settings past the deadline stay 0
  const alternate = async (settings: [string, () => void][]): Promise<Record<string, number>> => {
    const best: Record<string, number> = Object.fromEntries(settings.map(([name]) => [name, 0]));
    for (let round = 0; round < 2; round++) {
      for (const [name, set] of settings) {
        if (performance.now() > deadline) continue;
        set();
        const tok = await time();
        best[name] = Math.max(best[name], tok);
        log(`    prefill with ${name}: ${tok.toFixed(0)} tok/s`);
      }
    }
    return best;
  };
  const tried: PrefillTuneResult['tried'] = [];
  const start = await time();
  let bestTok = start;
  // each knob in turn: a getter and setter of its value, the values to try
  const sameNx = (nx: number) => Object.fromEntries(Object.keys(dpTuning.nx).map((bt) => [bt, nx]));
  const knobs: { knob: string; values: number[]; get: () => unknown; set: (v: unknown) => void; of: (v: number) => unknown }[] = [
    { knob: 'grouped', values: [0, 32, 64, 128], get: () => matmulTuning.grouped, set: (v) => (matmulTuning.grouped = v as number), of: (v) => v },
    { knob: 'bt', values: [64, 128], get: () => matmulTuning.bt, set: (v) => (matmulTuning.bt = v as number), of: (v) => v },
  ];
  const mma = r.ctx.caps.subgroupMatrixI8 && mmaChecked.passed;
  if (dpTuning.digits && mma) {
    // subgroup matrices on or off, then their subgroups a workgroup and row blocks a tile (no-ops where off)
    knobs.unshift(
      { knob: 'mma', values: [1, 0], get: () => mmaTuning.enabled, set: (v) => (mmaTuning.enabled = v as boolean), of: (v) => !!v },
      { knob: 'mma_subgroups', values: [1, 2, 4], get: () => mmaTuning.subgroups, set: (v) => (mmaTuning.subgroups = v as 1 | 2 | 4), of: (v) => v },
      { knob: 'mma_row_blocks', values: [2, 4], get: () => mmaTuning.rowBlocks, set: (v) => (mmaTuning.rowBlocks = v as 2 | 4), of: (v) => v },
    );
  }
  const hmma = r.ctx.caps.subgroupMatrixF16 && hmmaChecked.passed;
  if (hmma) {
    // f16 subgroup matrices on or off, then their row blocks and dense tokens a tile (no-ops where off)
    knobs.unshift(
      { knob: 'hmma', values: [1, 0], get: () => hmmaTuning.enabled, set: (v) => (hmmaTuning.enabled = v as boolean), of: (v) => !!v },
      { knob: 'hmma_row_blocks', values: [2, 4], get: () => hmmaTuning.rowBlocks, set: (v) => (hmmaTuning.rowBlocks = v as 2 | 4), of: (v) => v },
      { knob: 'hmma_token_blocks', values: [1, 2, 4], get: () => hmmaTuning.tokenBlocks, set: (v) => (hmmaTuning.tokenBlocks = v as 1 | 2 | 4), of: (v) => v },
    );
  }
  if (dpTuning.digits) {
    knobs.unshift(
      { knob: 'dp_slots', values: [4, 8], get: () => dpTuning.slots, set: (v) => (dpTuning.slots = v as 4 | 8), of: (v) => v },
      { knob: 'dp_nx', values: [8, 16], get: () => dpTuning.nx, set: (v) => (dpTuning.nx = v as Record<number, number>), of: sameNx },
    );
  }
  for (const k of knobs) {
    let bestValue = k.get();
    for (const v of k.values) {
      const value = k.of(v);
      if (JSON.stringify(value) === JSON.stringify(bestValue) || performance.now() > deadline) continue;
      const keep = k.get();
      k.set(value);
      const tok = await time();
      tried.push({ knob: k.knob, value: v, tok_s: tok });
      log(`    prefill ${k.knob} ${v}: ${tok.toFixed(0)} tok/s`);
      if (tok > bestTok) [bestTok, bestValue] = [tok, value];
      k.set(keep);
    }
    k.set(bestValue);
  }
  const chosen = {
    grouped: matmulTuning.grouped, bt: matmulTuning.bt, dp_nx: { ...dpTuning.nx }, dp_slots: dpTuning.slots, digits: dpTuning.digits,
    mma: mma && mmaTuning.enabled, mma_subgroups: mmaTuning.subgroups, mma_row_blocks: mmaTuning.rowBlocks,
    hmma: hmma && hmmaTuning.enabled, hmma_row_blocks: hmmaTuning.rowBlocks, hmma_token_blocks: hmmaTuning.tokenBlocks,
  };
  log(`  prefill tiles: ${start.toFixed(0)} -> ${bestTok.toFixed(0)} tok/s with ${JSON.stringify(chosen)}`);
  // the digit settings and the i8 routes below are timed with the f16 matrices off
  const chosenHmma = hmmaTuning.enabled;
  let hmma_vs_dp: PrefillTuneResult['hmma_vs_dp'];
  if (hmma) {
    const [on, off] = ['f16 subgroup matrices', `${dpTuning.digits} digit planes`];
    const ab = await alternate([[on, () => (hmmaTuning.enabled = true)], [off, () => (hmmaTuning.enabled = false)]]);
    hmma_vs_dp = { hmma: ab[on], dp: ab[off] };
  }
  hmmaTuning.enabled = false;
  // the chosen digit setting: its tuned figure, or (f16 matrices chosen) the A/B's other side
  const by_digits: Record<number, number> = { [dpTuning.digits]: hmma && chosenHmma ? hmma_vs_dp!.dp || (await time()) : bestTok };
  const setting = dpTuning.digits;
  for (const d of [0, 1, 2] as const) {
    if (d === setting || performance.now() > deadline) continue;
    dpTuning.digits = d;
    by_digits[d] = await time();
    log(`    prefill with ${d} digit planes${d ? '' : ' (f32 products)'}: ${by_digits[d].toFixed(0)} tok/s`);
  }
  let by_route: PrefillTuneResult['by_route'];
  if (mma) {
    // i8 subgroup matrices against the packed dot products (matmul-dp.wgsl) at 2 and 1 planes
    const chosenMma = mmaTuning.enabled;
    const label = (d: number, on: boolean) => `${d} digit planes, ${on ? 'subgroup matrices' : 'packed dot products'}`;
    const settings = ([2, 1] as const).flatMap((d) =>
      [true, false].map((on): [string, () => void] => [label(d, on), () => {
        dpTuning.digits = d;
        mmaTuning.enabled = on;
      }]));
    const ab = await alternate(settings);
    by_route = { mma: { 2: ab[label(2, true)], 1: ab[label(1, true)] }, dp: { 2: ab[label(2, false)], 1: ab[label(1, false)] } };
    mmaTuning.enabled = chosenMma;
  }
  dpTuning.digits = setting;
  hmmaTuning.enabled = chosenHmma;
  return { start_tok_s: start, tok_s: bestTok, tried, chosen, by_digits, by_route, hmma_vs_dp };
}
