// Prefill attention at the models' real shapes (T = 512 new tokens, an empty cache; full and, where
// the model has it, sliding-window layers): microseconds of the tiled kernel (attention-tiled.wgsl,
// what 'auto' runs for prefill chunks) against the workgroup-per-(token, head) kernel
// (attention-fast.wgsl, before round 8), and the largest difference between their outputs relative
// to the largest output (both compute in f32; the fast kernel is the one the kernel tests check
// against the CPU reference at small shapes).

import type { GpuContext } from '../src/gpu/device.ts';
import { attention, type AttentionArgs } from '../src/kernels/attention/attention.ts';
import type { ShapeEntry } from './model-bench.ts';
import { Rand } from './synthetic.ts';
import { gpuMicros } from './timing.ts';

export interface AttentionBenchRow {
  model: string;
  window: number | null;
  T: number;
  heads: string;
  fast_us: number;
  tiled_us: number;
  speedup: number;
  max_rel_diff: number;
}

export async function benchAttention(ctx: GpuContext, shapes: Record<string, ShapeEntry>, models: string[], T: number, log: (s: string) => void): Promise<AttentionBenchRow[]> {
  const rows: AttentionBenchRow[] = [];
  for (const name of models) {
    const c = shapes[name].config as Record<string, unknown>;
    const Hq = c.num_attention_heads as number;
    const Hkv = (c.num_key_value_heads as number | undefined) ?? Hq;
    const hd = (c.head_dim as number | undefined) ?? (c.hidden_size as number) / Hq;
    const types = (c.layer_types as string[] | undefined) ?? [];
    const windows: (number | null)[] = [null];
    if (types.includes('sliding_attention') && c.sliding_window) windows.push(c.sliding_window as number);
    const r = new Rand(17);
    const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => r.f() * s);
    const q = ctx.upload(rand(T * Hq * hd));
    const k = ctx.upload(rand(T * Hkv * hd));
    const v = ctx.upload(rand(T * Hkv * hd));
    const rowsCache = Math.max(T, ...windows.map((w) => w ?? 0));
    const kCache = ctx.createBuffer(rowsCache * Hkv * hd * 4);
    const vCache = ctx.createBuffer(rowsCache * Hkv * hd * 4);
    const sinks = c.model_type === 'gpt_oss' ? ctx.upload(rand(Hq)) : undefined;
    const outs = { fast: ctx.createBuffer(T * Hq * hd * 4), tiled: ctx.createBuffer(T * Hq * hd * 4) };
    try {
      for (const window of windows) {
        const args = (variant: 'fast' | 'tiled'): AttentionArgs => ({ T, nHeads: Hq, nKv: Hkv, hd, pos0: 0, capacity: window ?? T, window, q, k, v, kCache, vCache, sinks, out: outs[variant], variant });
        const fast = await gpuMicros(ctx, (e) => attention(e, args('fast')), 3);
        const tiled = await gpuMicros(ctx, (e) => attention(e, args('tiled')), 3);
        const [a, b] = [await ctx.readF32(outs.fast), await ctx.readF32(outs.tiled)];
        let diff = 0;
        let top = 0;
        for (let i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(a[i] - b[i]));
          top = Math.max(top, Math.abs(a[i]));
        }
        const row = { model: name, window, T, heads: `${Hq}/${Hkv}x${hd}`, fast_us: fast.us, tiled_us: tiled.us, speedup: fast.us / tiled.us, max_rel_diff: diff / top };
        rows.push(row);
        log(`attention ${name} ${window ? `sliding ${window}` : 'full'} T=${T}: fast ${fast.us.toFixed(0)} us, tiled ${tiled.us.toFixed(0)} us (${row.speedup.toFixed(2)}x), max rel diff ${row.max_rel_diff.toExponential(1)}`);
      }
    } finally {
      for (const b of [q, k, v, kCache, vCache, sinks, outs.fast, outs.tiled]) b?.destroy();
    }
  }
  return rows;
}
