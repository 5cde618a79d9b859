// One model shape end to end through GpuRunner (the engine as the app runs it): greedy decode with
// the choice on the GPU, prefill of a long prompt, and expert streaming at reduced budgets, for
// the simple kernels (the fallback path) and the fast ones, plus a per-kernel GPU time profile of
// one decode step and one prefill chunk.

import type { GpuContext } from '../src/gpu/device.ts';
import type { HfConfig } from '../src/format/adapters/common.ts';
import type { QuantKind } from '../src/format/quant-layout.ts';
import type { MatvecVariant } from '../src/kernels/matvec/matvec.ts';
import { GpuRunner } from '../src/model/gpu-runner.ts';
import { bytesPerToken, specOf, syntheticModel, tinyConfig, type SyntheticModel } from './synthetic.ts';
import { ProfilingEncoder } from './timing.ts';
import { tuneDecode } from './decode-tune.ts';
import { tunePrefill } from './prefill-tune.ts';
import { hmmaTuning } from '../src/kernels/matvec/matmul-hmma.ts';
import { dpTuning } from '../src/kernels/matvec/matmul-dp.ts';
import { ringTuning } from '../src/experts/staging.ts';
import { matvecTuning } from '../src/kernels/matvec/matvec.ts';
import { matmulTuning } from '../src/kernels/matvec/matmul-tiled.ts';
import { routeTuning } from '../src/kernels/router/router.ts';

/**
 * Copy the engine's tuning objects; the returned function puts the copy back. The decode and
 * prefill tuners change them in place for the model they tune: the other models then run with the
 * engine's settings (what a user gets), not with another shape's.
 */
export function tuningSnapshot(): () => void {
  const mv = { ...matvecTuning, byKind: { ...matvecTuning.byKind }, small: { ...matvecTuning.small }, downSum: { ...matvecTuning.downSum } };
  const mm = { ...matmulTuning, geometry: { ...matmulTuning.geometry } };
  const [route, hmma, dp] = [{ ...routeTuning }, { ...hmmaTuning }, { ...dpTuning, nx: { ...dpTuning.nx } }];
  return () => {
    Object.assign(matvecTuning, mv);
    Object.assign(matmulTuning, mm);
    Object.assign(routeTuning, route);
    Object.assign(hmmaTuning, hmma);
    Object.assign(dpTuning, dp);
  };
}

export interface ShapeEntry {
  expert_quant: QuantKind;
  dense_quant: QuantKind;
  full_layers: number;
  config: HfConfig;
}

export interface BenchSizes {
  prompt: number;
  decode: number;
  prefill: number;
  streamDecode: number;
  budgets: number[];
  /** staging-ring settings also streamed at the 25% budget besides the engine's (default: 16 MiB, not eager) */
  rings?: { chunkMiB: number; eager: boolean }[];
  variants: MatvecVariant[];
  profile: boolean;
}

export interface DecodeResult {
  tok_s: number;
  ms_per_token: number;
  dispatches_per_token: number;
  submits_per_token: number;
  cpu_record_ms_per_token: number;
  tokens: number[];
}

export interface StreamResult {
  budget: number;
  /** ring: the engine's staging ring; ring-batched / ring-alt: other ring settings (`ring`), not eager / eager */
  upload: 'ring' | 'writeBuffer' | 'ring-batched' | 'ring-alt';
  /** the staging ring's chunk bytes and whether each chunk is submitted as filled ('ring*' uploads) */
  ring?: { chunk_MiB: number; eager: boolean };
  budget_bytes: number;
  slots_per_layer: number;
  tok_s: number;
  miss_rate: number;
  streamed_GB: number;
  streamed_GBps: number;
  stall_ms_per_token: number;
  /** of streamed_GB: uploaded speculatively (predicted experts while the routing was read back), and used by a miss */
  speculative_GB?: number;
  speculative_used_GB?: number;
  upload_efficiency?: number;
  /** every run's tok/s and streamed GB/s (the fields above are the fastest run's) */
  runs_tok_s?: number[];
  runs_GBps?: number[];
}

type Log = (s: string) => void;

const rand = (n: number, V: number, seed: number) => Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 2654435761) ^ seed) >>> 0).map((x) => x % V);

async function decode(r: GpuRunner, prompt: number[], n: number, collect = true): Promise<DecodeResult> {
  r.reset();
  // a full collection now rather than during the run (node --expose-gc; the synthetic experts are GBs of host buffers)
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  const times: number[] = [];
  let dispatches = 0;
  let submits = 0;
  let cpu = 0;
  const tokens = await r.generateGreedy(prompt, n, {
    onToken: () => {
      times.push(performance.now());
      const s = r.lastChunkStats;
      dispatches += s.dispatches;
      submits += s.submits;
      cpu += s.encodeMs;
    },
  });
  const ms = (times[times.length - 1] - times[0]) / (n - 1);
  return { tok_s: 1000 / ms, ms_per_token: ms, dispatches_per_token: dispatches / n, submits_per_token: submits / n, cpu_record_ms_per_token: cpu / n, tokens };
}

async function prefill(r: GpuRunner, prompt: number[]): Promise<{ tok_s: number; ms: number; encode_ms: number; dispatches: number; submits: number }> {
  r.reset();
  // a full collection first, as decode does: the round-11 run measured Qwen3-30B-A3B's 512-token
  // prefill at 110-125 ms of wall time for 80 ms of GPU work (80 ms in a probe of the same code)
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = performance.now();
  await r.forward(prompt);
  const ms = performance.now() - t0;
  const s = r.lastChunkStats; // the last chunk's CPU recording time, dispatches and submits
  return { tok_s: (prompt.length / ms) * 1000, ms, encode_ms: s.encodeMs, dispatches: s.dispatches, submits: s.submits };
}

export async function benchModel(ctx: GpuContext, name: string, entry: ShapeEntry, small: boolean, sz: BenchSizes, log: Log, deadline: number, tune: 'all' | 'prefill' | 'none' = 'none') {
  const cfg = small ? tinyConfig(entry.config) : entry.config;
  const spec = specOf(cfg);
  let t0 = performance.now();
  const pm = syntheticModel(spec, { expertQuant: entry.expert_quant, denseQuant: entry.dense_quant });
  const built = performance.now() - t0;
  const V = spec.vocab_size;
  const ctxLen = sz.prompt + sz.decode / 2;
  const bpt = bytesPerToken(pm, ctxLen);
  const out: Record<string, unknown> = {
    layers: spec.num_hidden_layers,
    full_layers: small ? spec.num_hidden_layers : entry.full_layers,
    expert_quant: entry.expert_quant,
    dense_quant: entry.dense_quant,
    expert_blob_bytes: pm.expertLayout.bytes,
    expert_bytes_total: spec.num_hidden_layers * spec.moe.num_experts * pm.expertLayout.bytes,
    bytes_per_token: bpt,
    synthetic_build_ms: built,
  };
  log(`${name}: ${spec.num_hidden_layers} layers, ${((out.expert_bytes_total as number) / 1e9).toFixed(2)} GB of experts, ${(bpt.total / 1e9).toFixed(3)} GB read per token (built in ${built.toFixed(0)} ms)`);
  const prompt = rand(sz.prompt, V, 1);
  const long = rand(sz.prefill, V, 2);
  const maxLen = Math.max(1024, sz.prefill + sz.decode + 16, sz.prompt + sz.decode + 16);

  // resident: every expert on the GPU
  t0 = performance.now();
  const r = await GpuRunner.create(pm, { ctx, maxLen, maxChunk: Math.min(512, sz.prefill) });
  out.resident_upload_ms = performance.now() - t0;
  log(`  resident runner ready in ${(out.resident_upload_ms as number).toFixed(0)} ms`);
  try {
    if (tune !== 'none' && !small && performance.now() < deadline) {
      r.variant = 'auto';
      if (tune === 'all') {
        log(`  decode geometry, end to end:`);
        out.decode_tune = await tuneDecode(r, prompt, { dense: entry.dense_quant, expert: entry.expert_quant }, log, Math.min(deadline, performance.now() + 60_000));
      }
      log(`  prefill tiles, end to end:`);
      out.prefill_tune = await tunePrefill(r, long, log, Math.min(deadline, performance.now() + 30_000));
    }
    const variants: Record<string, unknown> = {};
    for (const v of sz.variants) {
      if (performance.now() > deadline) break;
      r.variant = v;
      // warm-up: pipelines, then ~0.5 s of decoding (the GPU's clocks ramp up under load)
      await decode(r, prompt, 4);
      for (const t0 = performance.now(); !small && v !== 'simple' && performance.now() - t0 < 500; ) await decode(r, prompt, 16, false); // no GC pauses: keep the GPU busy
      // the best of five runs (host hiccups — a GC pause, a late event — cost whole tokens); all are kept
      const runs: DecodeResult[] = [];
      for (let k = 0; k < (v === 'simple' || small ? 1 : 5); k++) runs.push(await decode(r, prompt, v === 'simple' ? Math.min(16, sz.decode) : sz.decode)); // the slow baseline: fewer tokens
      const d = { ...runs.reduce((a, b) => (b.tok_s > a.tok_s ? b : a)), runs_tok_s: runs.map((x) => x.tok_s) };
      await prefill(r, long.slice(0, 64)); // warm-up
      // the best of three (the first after decoding may meet lower clocks; a probe of Qwen3 saw
      // single runs 25% over the rest)
      const p = [await prefill(r, long), await prefill(r, long), await prefill(r, long)].reduce((a, b) => (b.ms < a.ms ? b : a));
      variants[v] = { decode: { ...d, tokens: d.tokens.slice(0, 8) }, prefill: p };
      log(`  ${v.padEnd(6)} decode ${d.tok_s.toFixed(1)} tok/s (${d.ms_per_token.toFixed(2)} ms, ${d.dispatches_per_token.toFixed(0)} dispatches, CPU record ${d.cpu_record_ms_per_token.toFixed(2)} ms), prefill ${sz.prefill}: ${p.tok_s.toFixed(0)} tok/s (${p.ms.toFixed(0)} ms; recording ${p.encode_ms.toFixed(1)} ms, ${p.dispatches} dispatches, ${p.submits} submits)`);
    }
    out.variants = variants;
    if (sz.variants.length > 1 && performance.now() < deadline) {
      // the two kernel sets on the same prompt: relative difference of the last logits
      const logits: Float32Array[] = [];
      for (const v of sz.variants) {
        r.variant = v;
        r.reset();
        logits.push((await r.forward(prompt))[0]);
      }
      const rel = (a: Float32Array, b: Float32Array) => {
        let d = 0;
        let m = 0;
        for (let i = 0; i < a.length; i++) {
          d = Math.max(d, Math.abs(a[i] - b[i]));
          m = Math.max(m, Math.abs(a[i]));
        }
        return d / m;
      };
      out.variants_logits_rel_diff = rel(logits[0], logits[1]);
      log(`  logits ${sz.variants.join(' vs ')}: max rel diff ${(out.variants_logits_rel_diff as number).toExponential(2)}`);
      // the fast variant's prompt logits on each prefill route against the first variant's: the
      // routes' precision (f16 subgroup matrices, 2 and 1 digit planes, f32 products)
      const saved = { hmma: hmmaTuning.enabled, digits: dpTuning.digits };
      const routes: Record<string, () => void> = {
        f32: () => Object.assign(dpTuning, { digits: 0 }),
        dp2: () => Object.assign(dpTuning, { digits: 2 }),
        dp1: () => Object.assign(dpTuning, { digits: 1 }),
      };
      if (ctx.caps.subgroupMatrixF16 && saved.hmma) routes.hmma = () => Object.assign(hmmaTuning, { enabled: true });
      const byRoute: Record<string, number> = {};
      r.variant = sz.variants[sz.variants.length - 1];
      try {
        for (const [name, set] of Object.entries(routes)) {
          hmmaTuning.enabled = false;
          set();
          r.reset();
          byRoute[name] = rel(logits[0], (await r.forward(prompt))[0]);
        }
      } finally {
        hmmaTuning.enabled = saved.hmma;
        dpTuning.digits = saved.digits;
      }
      out.prefill_route_logits_rel_diff = byRoute;
      log(`  prompt logits by prefill route vs ${sz.variants[0]}: ${Object.entries(byRoute).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    }
    const same = sz.variants.length > 1 && sz.variants.every((v) => JSON.stringify((variants[v] as { decode: DecodeResult })?.decode.tokens) === JSON.stringify((variants[sz.variants[0]] as { decode: DecodeResult })?.decode.tokens));
    out.variants_same_tokens = same;
    if (sz.profile && ctx.caps.timestampQuery && performance.now() < deadline) {
      r.variant = 'auto';
      r.reset();
      await r.forward(prompt);
      out.profile_decode = await ProfilingEncoder.profile(ctx, () => r.generateGreedy([prompt[0]], 1));
      r.reset();
      out.profile_prefill = await ProfilingEncoder.profile(ctx, () => r.forward(long.slice(0, Math.min(512, long.length))));
      const fmt = (p: { label: string; us: number; count: number }[]) => p.slice(0, 8).map((x) => `${x.label} ${x.us.toFixed(0)}us/${x.count}`).join(', ');
      log(`  profile decode: ${fmt(out.profile_decode as never)}`);
      log(`  profile prefill: ${fmt(out.profile_prefill as never)}`);
    }
  } finally {
    r.dispose();
  }

  // streaming: the same model with a fraction of the experts' bytes on the GPU
  const streaming: StreamResult[] = [];
  // at 25% also: queue.writeBuffer, and other staging-ring settings (default: as before round 8,
  // 16 MiB chunks submitted with the layer's experts) against the engine's (4 MiB chunks, each but
  // a blob's last submitted as filled)
  const ringDefault = { ...ringTuning };
  const runs: [number, StreamResult['upload'], { chunkBytes: number; eager: boolean }][] = sz.budgets.map((b) => [b, 'ring', ringDefault]);
  if (sz.budgets.includes(0.25)) {
    for (const r of sz.rings ?? [{ chunkMiB: 16, eager: false }]) runs.push([0.25, r.eager ? 'ring-alt' : 'ring-batched', { chunkBytes: r.chunkMiB << 20, eager: r.eager }]);
    runs.push([0.25, 'writeBuffer', ringDefault]);
  }
  for (const [budget, upload, setting] of runs) {
    if (performance.now() > deadline) break;
    Object.assign(ringTuning, setting);
    const ring = upload === 'writeBuffer' ? undefined : { chunk_MiB: ringTuning.chunkBytes / 2 ** 20, eager: ringTuning.eager };
    const s = await GpuRunner.create(pm, { ctx, maxLen, maxChunk: 64, expertBudget: budget, expertUpload: upload === 'writeBuffer' ? 'writeBuffer' : 'ring' });
    Object.assign(ringTuning, ringDefault);
    try {
      await s.generateGreedy(prompt.slice(0, 8), 2); // warm-up
      // the best of three runs on different token streams (host hiccups stall whole layers); all are kept
      const once = async (k: number): Promise<StreamResult> => {
        s.reset();
        // teacher-forced random tokens: a random model's greedy output repeats one token, which would
        // route every step to the same experts and hide the misses real text causes
        const forced = rand(sz.streamDecode + 1, V, 9 + k);
        (globalThis as { gc?: () => void }).gc?.(); // as for decode: the resident runs left GBs of garbage
        let before = s.expertCacheStats();
        let t = 0;
        let ms = 0;
        await s.generateGreedy(prompt.slice(0, 8), sz.streamDecode + 1, {
          forced,
          onToken: (_id, i) => {
            if (i === 0) {
              before = s.expertCacheStats();
              t = performance.now();
            } else ms = performance.now() - t;
          },
        });
        const after = s.expertCacheStats();
        const misses = after.misses - before.misses;
        const routed = misses + after.hits - before.hits;
        const bytes = after.bytesStreamed - before.bytesStreamed;
        const n = sz.streamDecode - 1; // steps between the first and the last token's callbacks (pipelined by one)
        return {
          budget,
          upload,
          ring,
          budget_bytes: after.budgetBytes,
          slots_per_layer: Math.round(after.budgetBytes / spec.num_hidden_layers / pm.expertLayout.bytes),
          tok_s: (n / ms) * 1000,
          miss_rate: routed ? misses / routed : 0,
          streamed_GB: bytes / 1e9,
          streamed_GBps: bytes / ms / 1e6,
          stall_ms_per_token: (after.stallMs - before.stallMs) / n,
          speculative_GB: ((after.speculativeBytes ?? 0) - (before.speculativeBytes ?? 0)) / 1e9,
          speculative_used_GB: ((after.speculativeUsedBytes ?? 0) - (before.speculativeUsedBytes ?? 0)) / 1e9,
        } as StreamResult;
      };
      const all: StreamResult[] = [];
      for (let k = 0; k < (small ? 1 : 3); k++) all.push(await once(k));
      const res: StreamResult = { ...all.reduce((a, b) => (b.tok_s > a.tok_s ? b : a)), runs_tok_s: all.map((x) => x.tok_s), runs_GBps: all.map((x) => x.streamed_GBps) };
      streaming.push(res);
      log(`  stream ${(budget * 100).toFixed(0)}% (${upload}${ring ? ` ${ring.chunk_MiB} MiB${ring.eager ? ' eager' : ''}` : ''}): ${res.tok_s.toFixed(2)} tok/s, miss ${(res.miss_rate * 100).toFixed(0)}%, ${res.streamed_GBps.toFixed(2)} GB/s streamed (speculative ${res.speculative_GB!.toFixed(2)} GB, used ${res.speculative_used_GB!.toFixed(2)} GB)`);
    } finally {
      s.dispose();
    }
  }
  out.streaming = streaming;
  return { out, pm };
}

/** Decode / prefill of the same family at 2 layers, for the per-layer slope of a layer subset. */
export async function benchTwoLayers(ctx: GpuContext, entry: ShapeEntry, sz: BenchSizes): Promise<{ decode_ms: number; prefill_ms: number }> {
  const cfg = { ...entry.config, num_hidden_layers: 2 } as HfConfig;
  if (Array.isArray(cfg.layer_types)) cfg.layer_types = (cfg.layer_types as string[]).slice(0, 2);
  const pm: SyntheticModel = syntheticModel(specOf(cfg), { expertQuant: entry.expert_quant, denseQuant: entry.dense_quant });
  const V = pm.spec.vocab_size;
  const r = await GpuRunner.create(pm, { ctx, maxLen: 1024, maxChunk: Math.min(512, sz.prefill) });
  try {
    // measured as the full model's auto variant is (warm clocks, the best of five decodes and of
    // two prefills): a cold single run made the per-layer difference negative
    const prompt = rand(sz.prompt, V, 1);
    await decode(r, prompt, 4);
    for (const t0 = performance.now(); performance.now() - t0 < 500; ) await decode(r, prompt, 16, false);
    let best = Infinity;
    for (let k = 0; k < 5; k++) best = Math.min(best, (await decode(r, prompt, sz.decode)).ms_per_token);
    await prefill(r, rand(64, V, 2));
    const long = rand(sz.prefill, V, 2);
    const p = Math.min((await prefill(r, long)).ms, (await prefill(r, long)).ms);
    return { decode_ms: best, prefill_ms: p };
  } finally {
    r.dispose();
  }
}
