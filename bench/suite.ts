// `npm run bench`: the whole benchmark in one process, for the GPU machine (and at toy size on
// SwiftShader to check the harness). Sections, each under try/catch and a time budget, the JSON
// rewritten after every section so a killed run still leaves a complete file:
//   ceilings  copy, f32 matvec, upload paths, dispatch / submit / readback costs
//   kernels   matvec GB/s per weight kind, simple vs fast (geometry sweep), device-checked
//   models    gpt-oss-20b, Qwen3-30B-A3B, MiniMax-M2 (layer subset) shapes through GpuRunner
//   torch     tools/bench_torch.py, HF transformers bf16 eager at the same shapes (same machine)
//
//   npm run bench [-- --scale tiny|real] [--models a,b] [--sections ceilings,kernels,matmul,attention,models,torch]
//                 [--out file.json] [--time-limit s (ours)] [--torch-time s] [--torch-json file]
//                 [--readme README.bench.md]

import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { DAWN_EXPERIMENTAL, createGpuContext, findGpu } from '../src/gpu/device.ts';
import { checkHmma, checkMma } from './mma-check.ts';
import { matvecTuning } from '../src/kernels/matvec/matvec.ts';
import { measureCeilings, measureF32Matvec, type Ceilings } from './ceilings.ts';
import { sweepKernels, sweepMatmul } from './kernel-sweep.ts';
import { downShape, sweepDownSum } from './down-sweep.ts';
import { matmulTuning } from '../src/kernels/matvec/matmul-tiled.ts';
import { benchAttention } from './attention-bench.ts';
import { benchModel, benchTwoLayers, tuningSnapshot, type BenchSizes, type ShapeEntry } from './model-bench.ts';
import { headline, readmeTable } from './report.ts';

export const usage = 'the full suite (default): ceilings, kernels, models, torch peer [--scale --models --sections --out --time-limit --variants --budgets --rings --tune]';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function run(argv: string[]): Promise<number> {
  const start = performance.now();
  const limitS = Number(arg(argv, 'time-limit') ?? 240);
  const torchS = Number(arg(argv, 'torch-time') ?? 150);
  const deadline = start + limitS * 1000;
  const log = (s: string) => console.log(`[${((performance.now() - start) / 1000).toFixed(1)}s] ${s}`);
  const { nodeGpu } = await import('../src/gpu/node.ts');
  // --experimental 1 (default): Dawn's unsafe APIs on, which exposes the experimental subgroup
  // matrices the prefill products use where present, and f16 on NVIDIA (Chrome: --enable-unsafe-webgpu
  // --enable-dawn-features=vulkan_enable_f16_on_nvidia)
  const experimental = (arg(argv, 'experimental') ?? '1') !== '0';
  await nodeGpu(['disable-dawn-features=timestamp_quantization', ...(experimental ? [DAWN_EXPERIMENTAL] : [])]);
  const ctx = await createGpuContext({ gpu: await findGpu() });
  const small = (arg(argv, 'scale') ?? (ctx.caps.fallbackAdapter ? 'tiny' : 'real')) === 'tiny';
  const sections = new Set((arg(argv, 'sections') ?? 'ceilings,kernels,matmul,attention,models,torch').split(','));
  const shapes = JSON.parse(readFileSync('bench/shapes.json', 'utf8')) as Record<string, ShapeEntry>;
  const models = (arg(argv, 'models') ?? Object.keys(shapes).join(',')).split(',').filter((m) => shapes[m]);
  const info = ctx.adapterInfo;
  const gpuName = (info.description || info.device || info.architecture || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
  const date = new Date().toISOString().slice(0, 10);
  const outPath = arg(argv, 'out') ?? `bench/results/${date}-${gpuName}${small ? '-tiny' : ''}.json`;
  const sizes: BenchSizes = small
    ? { prompt: 8, decode: 6, prefill: 24, streamDecode: 3, budgets: [0.5, 0.25], variants: ['simple', 'auto'], profile: true }
    : { prompt: 32, decode: 64, prefill: 512, streamDecode: 16, budgets: [0.5, 0.25], variants: ['simple', 'auto'], profile: true };
  // narrower runs for exploring one thing: --variants auto --budgets none --tune 0|prefill
  const variants = arg(argv, 'variants');
  if (variants) sizes.variants = variants.split(',') as BenchSizes['variants'];
  const budgets = arg(argv, 'budgets');
  if (budgets) sizes.budgets = budgets === 'none' ? [] : budgets.split(',').map(Number);
  // staging-ring settings streamed at 25% besides the engine's: MiB:eager, e.g. --rings 16:0,8:1
  const rings = arg(argv, 'rings');
  if (rings) sizes.rings = rings.split(',').map((x) => ({ chunkMiB: Number(x.split(':')[0]), eager: x.split(':')[1] === '1' }));
  const tune = ({ '0': 'none', prefill: 'prefill' } as const)[arg(argv, 'tune') ?? ''] ?? 'all';
  const adapter = await (await findGpu()).requestAdapter({ powerPreference: 'high-performance' });
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    adapter: { ...info, features: adapter ? [...adapter.features].sort() : [], subgroupMinSize: ctx.caps.subgroupMinSize,
      experimental, subgroupMatrixI8: ctx.caps.subgroupMatrixI8, subgroupMatrixF16: ctx.caps.subgroupMatrixF16,
      subgroupMatrixConfigs: ((adapter?.info as unknown as { subgroupMatrixConfigs?: Record<string, unknown>[] })?.subgroupMatrixConfigs ?? []).map((c) => ({ M: c.M, N: c.N, K: c.K, componentType: c.componentType, resultComponentType: c.resultComponentType })) },
    scale: small ? 'tiny' : 'real',
    sizes,
    errors: [] as string[],
  };
  const errors = result.errors as string[];
  const save = () => {
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, JSON.stringify(result, null, 1));
  };
  const section = async (name: string, budgetS: number, fn: () => Promise<void>, until = deadline) => {
    if (!sections.has(name)) return;
    if (performance.now() > until) {
      errors.push(`${name}: skipped (time limit)`);
      return;
    }
    log(`== ${name}`);
    try {
      await fn();
    } catch (e) {
      errors.push(`${name}: ${(e as Error).stack ?? e}`);
      log(`${name} FAILED: ${(e as Error).message}`);
    }
    log(`== ${name} done (${budgetS}s budget)`);
    save();
  };
  log(`adapter ${JSON.stringify(info)}, subgroups ${ctx.caps.subgroups} (min ${ctx.caps.subgroupMinSize}), scale ${small ? 'tiny' : 'real'}, out ${outPath}`);
  save();

  let ceilings = null as Ceilings | null; // (set inside a section's closure)
  await section('ceilings', 60, async () => {
    ceilings = await measureCeilings(ctx, small, log);
    result.ceilings = ceilings;
  });
  let ceilingGBps = ceilings?.f32Matvec.GBps ?? 1;

  await section('kernels', 90, async () => {
    // the ceiling once more with the GPU warm; the larger of the two is the ceiling of this run
    const again = await measureF32Matvec(ctx, small);
    log(`f32 matvec ceiling again: ${again.GBps.toFixed(1)} GB/s`);
    if (ceilings && again.GBps > ceilings.f32Matvec.GBps) ceilings.f32Matvec = again;
    ceilingGBps = Math.max(ceilingGBps, again.GBps);
    const s = await sweepKernels(ctx, small, ceilingGBps, log, Math.min(deadline, performance.now() + 90_000));
    result.kernels = {
      ceiling_GBps: ceilingGBps,
      q4_matvec_vs_ceiling: s.best.q4?.ofCeiling ?? null,
      q8_matvec_vs_ceiling: s.best.q8?.ofCeiling ?? null,
      mxfp4_matvec_vs_ceiling: s.best.mxfp4?.ofCeiling ?? null,
      f16_matvec_vs_ceiling: s.best.f16?.ofCeiling ?? null,
      f32_fast_matvec_vs_ceiling: s.best.f32?.ofCeiling ?? null,
      best: s.best,
      chosen: s.chosen,
      chosen_small: s.chosenSmall,
      model_shapes: s.small,
      rows: s.rows,
    };
    matvecTuning.byKind = s.chosen; // the engine runs with the geometry measured best here
    // the decode's small products and down + combine keep the engine's geometry where it has one:
    // alone, a product re-reads its few MB from L2 (down_sum of gpt-oss 17 us there, 27 us in a
    // chain of cold dispatches), so these sweeps only fill kinds without a default; the decode
    // tuner then measures the headline model's end to end
    matvecTuning.small = { ...s.chosenSmall, ...matvecTuning.small };
    if (!small) {
      const ds = await sweepDownSum(ctx, log, Math.min(deadline, performance.now() + 30_000), models.map((m) => downShape(shapes[m])));
      (result.kernels as Record<string, unknown>).down_sum = ds;
      matvecTuning.downSum = { ...ds.chosen, ...matvecTuning.downSum };
    }
    log(`engine matvec geometry: ${JSON.stringify(matvecTuning)}`);
  });

  await section('matmul', 40, async () => {
    const mma_check = await checkMma(ctx, log);
    if (mma_check?.failures.length) errors.push(`matmul-mma device check: ${mma_check.failures.join('; ')}`);
    const hmma_check = await checkHmma(ctx, log);
    if (hmma_check?.failures.length) errors.push(`matmul-hmma device check: ${hmma_check.failures.join('; ')}`);
    const mm = await sweepMatmul(ctx, small, log, Math.min(deadline, performance.now() + 40_000));
    result.kernels = { ...(result.kernels as object | undefined), matmul: mm, mma_check, hmma_check };
    if (mm.best) Object.assign(matmulTuning, mm.best);
    log(`engine matmul tile: ${JSON.stringify(matmulTuning)}`);
  });

  await section('attention', 20, async () => {
    const attention = await benchAttention(ctx, shapes, models, small ? 24 : 512, log);
    result.kernels = { ...(result.kernels as object | undefined), attention };
  });

  const modelResults: Record<string, Record<string, unknown>> = {};
  result.models = modelResults;
  await section('models', 300, async () => {
    for (const name of models) {
      if (performance.now() > deadline) {
        errors.push(`models/${name}: skipped (time limit)`);
        continue;
      }
      try {
        // the first model is tuned end to end; the others run with the engine's settings
        const restore = tuningSnapshot();
        const { out } = await benchModel(ctx, name, shapes[name], small, sizes, log, deadline, name === models[0] ? tune : 'none');
        restore();
        modelResults[name] = out;
        const entry = shapes[name];
        if (!small && entry.full_layers > (entry.config.num_hidden_layers as number) && performance.now() < deadline) {
          const two = await benchTwoLayers(ctx, entry, sizes);
          out.two_layers = two;
          const n = entry.config.num_hidden_layers as number;
          const auto = (out.variants as Record<string, { decode: { ms_per_token: number }; prefill: { ms: number } }>).auto;
          const perLayer = (auto.decode.ms_per_token - two.decode_ms) / (n - 2);
          const perLayerPrefill = (auto.prefill.ms - two.prefill_ms) / (n - 2);
          const full = entry.full_layers;
          out.extrapolated = {
            per_layer_decode_ms: perLayer,
            per_layer_prefill_ms: perLayerPrefill,
            // null where the per-layer time is below the noise (the 2-layer run not faster)
            decode_tok_s: perLayer > 0 ? 1000 / (two.decode_ms + (full - 2) * perLayer) : null,
            prefill_tok_s: (sizes.prefill * 1000) / (two.prefill_ms + (full - 2) * perLayerPrefill),
          };
          log(`  ${name} extrapolated to ${full} layers: ${JSON.stringify(out.extrapolated)}`);
        }
      } catch (e) {
        errors.push(`models/${name}: ${(e as Error).stack ?? e}`);
        log(`${name} FAILED: ${(e as Error).message}`);
      }
      save();
    }
  });
  ctx.destroy();

  // torch after our GPU work is released (it needs the memory: a 30B model in bf16 is 61 GB)
  const torchDeadline = performance.now() + torchS * 1000;
  await section('torch', torchS, async () => {
    const given = arg(argv, 'torch-json');
    let path = given;
    if (!path) {
      path = outPath.replace(/\.json$/, '.torch.json');
      const left = torchS;
      const r = spawnSync('python3', ['tools/bench_torch.py', '--out', path, '--models', models.join(','), '--time-limit', String(Math.floor(left - 40)), '--prompt', String(sizes.prompt), '--decode', String(Math.min(32, sizes.decode)), '--prefill', String(sizes.prefill)], {
        stdio: 'inherit',
        timeout: left * 1000,
      });
      if (r.status !== 0 && !existsSync(path)) throw new Error(`bench_torch.py exited with ${r.status ?? r.signal} ${r.error ?? ''}`);
    }
    result.torch = JSON.parse(readFileSync(path, 'utf8'));
  }, torchDeadline);

  Object.assign(result, headline(result, ceilings, modelResults));
  save();
  const readme = arg(argv, 'readme');
  if (readme) writeFileSync(readme, readmeTable(result));
  log(`wrote ${outPath}`);
  console.log(JSON.stringify({ decode: result.decode, prefill: result.prefill, streaming: result.streaming, kernels: { q4: (result.kernels as { q4_matvec_vs_ceiling?: number })?.q4_matvec_vs_ceiling } }));
  return errors.length ? 1 : 0;
}
