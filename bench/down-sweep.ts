// The fused down + weighted combine (down_sum) at the benchmarked models' decode shapes: the
// engine's geometry against the wide design with and without the K experts in one unit loop
// (kx), and with a team of lanes per expert (kt; 8, 16 or 32 lanes). Each candidate's output is first compared ON THIS DEVICE with the engine's current
// kernel; a candidate that differs is reported and never chosen.

import type { GpuContext } from '../src/gpu/device.ts';
import { expertLayout, type QuantKind } from '../src/format/quant-layout.ts';
import { matvecTuning, type FastGeometry } from '../src/kernels/matvec/matvec.ts';
import { expertDownSum } from '../src/kernels/matvec/moe-fused.ts';
import { matches } from './kernel-sweep.ts';
import type { ShapeEntry } from './model-bench.ts';
import { Rand, randomPacked, specOf } from './synthetic.ts';
import { bestMicros } from './timing.ts';

/** (kind, D, I, K, biases) of one model's experts. */
export type DownShape = [QuantKind, number, number, number, boolean];

export function downShape(entry: ShapeEntry): DownShape {
  const s = specOf(entry.config);
  return [entry.expert_quant, s.hidden_size, s.moe.moe_intermediate_size, s.moe.num_experts_per_tok, s.moe.expert_bias];
}

export interface DownSumResult {
  chosen: Partial<Record<QuantKind, FastGeometry>>;
  rows: { kind: QuantKind; tuning: string; us: number; correct: boolean }[];
  base: Partial<Record<QuantKind, number>>;
}

const label = (g: FastGeometry) => `wide ${g.kt ? `kt tpr${g.tpr}` : `wg${g.wg}`} rpt${g.rpt} pf${g.pf} kx${g.kx ?? 0} dq${g.dq}`;

/** `shapes`: the benchmarked models' experts (downShape of each). */
export async function sweepDownSum(ctx: GpuContext, log: (s: string) => void, deadline: number, shapes: DownShape[]): Promise<DownSumResult> {
  const out: DownSumResult = { chosen: {}, rows: [], base: {} };
  const saved = { ...matvecTuning.downSum };
  const lut = ctx.caps.subgroupMinSize >= 16;
  try {
    for (const kind of [...new Set(shapes.map((s) => s[0]))]) {
      const rand = new Rand(11);
      const setups = shapes.filter((s) => s[0] === kind).map(([, D, I, K, biases]) => {
        const layout = expertLayout(kind, D, I, biases);
        const arena = new Uint8Array(K * layout.bytes);
        for (let k = 0; k < K; k++) {
          arena.set(randomPacked(kind, D, I, 1, rand), k * layout.bytes + layout.down.offset);
          if (layout.down_bias) arena.set(new Uint8Array(Float32Array.from({ length: D }, () => 0.1 * rand.f()).buffer), k * layout.bytes + layout.down_bias.offset);
        }
        const b = {
          arena: ctx.upload(arena),
          slots: ctx.upload(Uint32Array.from({ length: K }, (_, k) => (k * layout.bytes) / 4)),
          x: ctx.upload(Float32Array.from({ length: K * I }, () => rand.f())),
          weights: ctx.upload(Float32Array.from({ length: K }, () => 0.2 + 0.5 * rand.f())),
          out: ctx.createBuffer(D * 4),
        };
        const run = (enc: Parameters<typeof expertDownSum>[0]) => expertDownSum(enc, { layout, T: 1, K, arena: b.arena, slots: b.slots, x: b.x, weights: b.weights, out: b.out });
        return { D, b, run };
      });
      const result = async () => {
        const got: Float32Array[] = [];
        for (const s of setups) {
          const enc = ctx.encoder('down-check');
          s.run(enc);
          enc.submit();
          got.push(await ctx.readF32(s.b.out));
        }
        return got;
      };
      const total = async () => {
        let us = 0;
        for (const s of setups) us += await bestMicros(ctx, s.run, 10);
        return us;
      };
      const engine = saved[kind]; // the engine's default (kept by the suite), measured as the base
      const want = await result();
      const baseUs = await total();
      out.base[kind] = baseUs;
      log(`  down_sum ${kind.padEnd(6)} engine geometry ${JSON.stringify(engine ?? null)}: ${baseUs.toFixed(1)} us over ${setups.length} shape(s)`);
      let best: { g: FastGeometry; us: number } | null = null;
      for (const dq of kind === 'mxfp4' ? (lut ? [0, 1, 2] : [0, 2]) : lut && kind === 'q4' ? [0, 1] : [0])
        for (const wg of [64, 128, 256])
          for (const rpt of [1, 2, 4])
            // the K experts one after another, all in one unit loop (kx), a team per expert (kt; wg picks its lanes)
            for (const mode of [{ kx: 0 }, { kx: 1 }, { kt: 1, tpr: wg / 8 }]) {
              if (performance.now() > deadline) break;
              const g: FastGeometry = { wg, rpt, unr: 1, dq, pf: 1, design: 'wide', ...mode };
              matvecTuning.downSum[kind] = g;
              const got = await result();
              const correct = got.every((v, i) => matches(v, want[i]));
              const us = await total();
              out.rows.push({ kind, tuning: label(g), us, correct });
              log(`  down_sum ${kind.padEnd(6)} ${label(g).padEnd(34)} ${us.toFixed(1)} us${correct ? '' : ' WRONG'}`);
              if (correct && us < baseUs && (!best || us < best.us)) best = { g, us };
            }
      if (best) out.chosen[kind] = best.g;
      for (const s of setups) Object.values(s.b).forEach((x) => x.destroy());
    }
    return out;
  } finally {
    matvecTuning.downSum = saved;
  }
}
