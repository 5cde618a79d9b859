// Headline numbers (the acceptance keys of the results JSON) and the README table.
//
//   decode.roofline_fraction = bytes one token reads x tok/s / f32 matvec ceiling of the same run
//   decode.vs_torch, prefill.vs_torch = ours / HF transformers bf16 eager, same shapes and GPU
//   streaming.upload_efficiency = streamed GB/s at the 25% budget / best upload path of the run

import type { Ceilings } from './ceilings.ts';
import type { DecodeResult, StreamResult } from './model-bench.ts';

type Obj = Record<string, unknown>;

interface ModelOut {
  layers: number;
  full_layers: number;
  bytes_per_token: { total: number };
  variants?: Record<string, { decode: DecodeResult; prefill: { tok_s: number } }>;
  streaming?: StreamResult[];
  extrapolated?: { decode_tok_s: number | null; prefill_tok_s: number };
}

const HEADLINE_MODEL = 'gpt-oss-20b';

/** Streamed GB/s counting only bytes a miss used (speculative uploads nobody used left out). */
function usefulGBps(s: StreamResult): number {
  const all = s.streamed_GB;
  if (!all) return s.streamed_GBps;
  const wasted = (s.speculative_GB ?? 0) - (s.speculative_used_GB ?? 0);
  return (s.streamed_GBps * (all - wasted)) / all;
}

function summarize(name: string, m: ModelOut, ceilings: Ceilings | null, torch: Obj | undefined): Obj {
  const fast = m.variants?.auto;
  const simple = m.variants?.simple;
  const t = (torch?.models as Obj | undefined)?.[name] as { decode_tok_s?: number; prefill_tok_s?: number } | undefined;
  const rooflineTokS = (ceilings ? ceilings.f32Matvec.GBps * 1e9 : NaN) / m.bytes_per_token.total;
  const up = ceilings?.upload.bestGBps ?? NaN;
  for (const s of m.streaming ?? []) s.upload_efficiency = s.streamed_GBps / up;
  const s25 = (m.streaming ?? []).find((s) => s.budget === 0.25 && s.upload === 'ring');
  return {
    decode: {
      tok_s: fast?.decode.tok_s ?? null,
      roofline_fraction: fast ? fast.decode.tok_s / rooflineTokS : null,
      vs_torch: fast && t?.decode_tok_s ? fast.decode.tok_s / t.decode_tok_s : null,
      torch_tok_s: t?.decode_tok_s ?? null,
      simple_tok_s: simple?.decode.tok_s ?? null,
      bytes_per_token: m.bytes_per_token.total,
      roofline_tok_s: rooflineTokS,
      dispatches_per_token: fast?.decode.dispatches_per_token ?? null,
      cpu_record_ms_per_token: fast?.decode.cpu_record_ms_per_token ?? null,
    },
    prefill: {
      tok_s: fast?.prefill.tok_s ?? null,
      vs_torch: fast && t?.prefill_tok_s ? fast.prefill.tok_s / t.prefill_tok_s : null,
      torch_tok_s: t?.prefill_tok_s ?? null,
      simple_tok_s: simple?.prefill.tok_s ?? null,
    },
    streaming: {
      upload_efficiency: s25?.upload_efficiency ?? null,
      // without the speculative bytes no miss used (uploads that did not serve a token)
      useful_upload_efficiency: s25 ? usefulGBps(s25) / up : null,
      best_upload_GBps: up,
      budgets: [{ budget: 1, tok_s: fast?.decode.tok_s ?? null, miss_rate: 0 }, ...(m.streaming ?? [])],
    },
    extrapolated: m.extrapolated ?? null,
  };
}

export function headline(result: Obj, ceilings: Ceilings | null, models: Record<string, Obj>): Obj {
  const torch = result.torch as Obj | undefined;
  const summary: Record<string, Obj> = {};
  for (const [name, m] of Object.entries(models)) if ((m as unknown as ModelOut).variants) summary[name] = summarize(name, m as unknown as ModelOut, ceilings, torch);
  const main = summary[HEADLINE_MODEL] ?? Object.values(summary)[0] ?? {};
  return { headline_model: summary[HEADLINE_MODEL] ? HEADLINE_MODEL : Object.keys(summary)[0] ?? null, decode: main.decode ?? null, prefill: main.prefill ?? null, streaming: main.streaming ?? null, summary };
}

const f = (v: unknown, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
const pct = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : '–');

/** Markdown section with the run's tables. */
export function readmeTable(result: Obj): string {
  const a = result.adapter as Obj;
  const c = result.ceilings as Ceilings | undefined;
  const k = result.kernels as Obj | undefined;
  const summary = (result.summary ?? {}) as Record<string, Obj>;
  const lines: string[] = [];
  lines.push(`Run of ${String(result.date).slice(0, 10)} on \`${a.description || a.device}\` (${result.scale} shapes), Node + Dawn (\`webgpu\`), random weights.`);
  lines.push('');
  if (c)
    lines.push(
      `Ceilings: f32 matvec ${f(c.f32Matvec.GBps, 0)} GB/s, copy ${f(c.copyGBps, 0)} GB/s, upload writeBuffer ${f(c.upload.writeBufferGBps, 2)} GB/s, best upload ${f(c.upload.bestGBps, 2)} GB/s (${c.upload.best}), dispatch ${f(c.dispatchUs, 2)} µs, submit ${f(c.submitUs, 1)} µs, readback ${f(c.readbackUs, 0)} µs.`,
    );
  if (k) lines.push(`Matvec vs the f32 ceiling (fast variant, best geometry): q4 ${pct(k.q4_matvec_vs_ceiling)}, q8 ${pct(k.q8_matvec_vs_ceiling)}, mxfp4 ${pct(k.mxfp4_matvec_vs_ceiling)}, f16 ${pct(k.f16_matvec_vs_ceiling)}.`);
  lines.push('');
  lines.push('| model | decode tok/s | roofline | vs HF eager | HF decode | prefill tok/s | vs HF eager | HF prefill | stream 50% | stream 25% | upload eff. 25% |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, s] of Object.entries(summary)) {
    const d = s.decode as Obj;
    const p = s.prefill as Obj;
    const st = s.streaming as { upload_efficiency: number | null; useful_upload_efficiency?: number | null; budgets: { budget: number; tok_s: number | null; miss_rate: number }[] };
    const b = (x: number) => st.budgets.find((y) => y.budget === x && (y as { upload?: string }).upload === 'ring');
    const sb = (x: number) => (b(x) ? `${f(b(x)!.tok_s, 2)} (miss ${pct(b(x)!.miss_rate)})` : '–');
    lines.push(`| ${name} | ${f(d.tok_s)} | ${pct(d.roofline_fraction)} | ${f(d.vs_torch, 2)}× | ${f(d.torch_tok_s)} | ${f(p.tok_s, 0)} | ${f(p.vs_torch, 2)}× | ${f(p.torch_tok_s, 0)} | ${sb(0.5)} | ${sb(0.25)} | ${pct(st.upload_efficiency)} (${pct(st.useful_upload_efficiency ?? null)} used) |`);
  }
  lines.push('');
  lines.push('Simple kernels (the fallback path) in the same run:');
  lines.push('');
  lines.push('| model | decode tok/s | prefill tok/s | dispatches/token (fast) | CPU record ms/token (fast) |');
  lines.push('|---|---|---|---|---|');
  for (const [name, s] of Object.entries(summary)) {
    const d = s.decode as Obj;
    lines.push(`| ${name} | ${f(d.simple_tok_s)} | ${f((s.prefill as Obj).simple_tok_s, 0)} | ${f(d.dispatches_per_token, 0)} | ${f(d.cpu_record_ms_per_token, 2)} |`);
  }
  const ex = Object.entries(summary).filter(([, s]) => s.extrapolated);
  if (ex.length) {
    lines.push('');
    for (const [name, s] of ex) {
      const e = s.extrapolated as Obj;
      const decode = (e.per_layer_decode_ms as number) > 0 ? `decode ${f(e.decode_tok_s)} tok/s` : 'decode not extrapolated (the 2-layer run was not faster than the subset: per-layer time below the noise)';
      lines.push(`${name}: measured on a layer subset; extrapolated to the full depth: ${decode}, prefill ${f(e.prefill_tok_s, 0)} tok/s (per layer: ${f(e.per_layer_decode_ms, 3)} ms decode, ${f(e.per_layer_prefill_ms, 1)} ms prefill of ${(result.sizes as { prefill: number }).prefill}).`);
    }
  }
  return lines.join('\n') + '\n';
}
