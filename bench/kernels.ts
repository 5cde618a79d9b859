// Kernel microbenchmark: achieved GB/s of the matvec kernel for every weight kind (f32, f16, q8,
// q4, mxfp4), against the f32 matvec measured in the same run as the ceiling (llm.c style: time
// each variant, print bandwidth against the best the hardware showed).
//
// Timing: timestamp queries around one compute pass of `reps` dispatches when the adapter has
// `timestamp-query`, else wall clock around submit + onSubmittedWorkDone (both are printed when
// available). Bytes per matvec = packed matrix + x + y.
//
//   npm run bench -- kernels [--rows N] [--cols N] [--reps N] [--json out.json]

import { createGpuContext, type GpuContext } from '../src/gpu/device.ts';
import { findGpu } from '../src/gpu/device.ts';
import { f32ToF16 } from '../src/format/dtypes.ts';
import { QUANT_KINDS, dataBytes, matrixBytes, scaleBytes, type QuantKind } from '../src/format/quant-layout.ts';
import { matvec } from '../src/kernels/matvec/matvec.ts';

export const usage = 'matvec GB/s per weight kind vs the f32 ceiling [--rows --cols --reps --json]';

interface Row {
  kind: QuantKind;
  bytes: number;
  gpuUs: number | null;
  wallUs: number;
  gbps: number;
  ofCeiling: number;
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Valid packed bytes without running the encoder: random data words, sane scales. */
function randomMatrix(kind: QuantKind, rows: number, cols: number, seed: number): Uint8Array {
  const out = new Uint8Array(matrixBytes(kind, rows, cols));
  const data = dataBytes(kind, rows, cols);
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
  const words = new Uint32Array(out.buffer, 0, data / 4);
  if (kind === 'f32') {
    const f = new Float32Array(out.buffer, 0, data / 4);
    for (let i = 0; i < f.length; i++) f[i] = (next() / 2 ** 32 - 0.5) * 0.1;
  } else if (kind === 'f16') {
    for (let i = 0; i < words.length; i++) words[i] = f32ToF16((next() / 2 ** 32 - 0.5) * 0.1) | (f32ToF16((next() / 2 ** 32 - 0.5) * 0.1) << 16);
  } else {
    for (let i = 0; i < words.length; i++) words[i] = next();
  }
  const sb = scaleBytes(kind, rows, cols);
  if (kind === 'q8' || kind === 'q4') {
    const h = new Uint16Array(out.buffer, data, sb / 2);
    for (let i = 0; i < h.length; i++) h[i] = f32ToF16(0.001 + (next() / 2 ** 32) * 0.01);
  } else if (kind === 'mxfp4') {
    for (let i = 0; i < sb; i++) out[data + i] = 118 + (next() % 8);
  }
  return out;
}

async function timeKind(ctx: GpuContext, kind: QuantKind, rows: number, cols: number, reps: number): Promise<{ gpuUs: number | null; wallUs: number }> {
  const w = ctx.upload(randomMatrix(kind, rows, cols, 7));
  const x = ctx.upload(Float32Array.from({ length: cols }, (_, i) => Math.sin(i)));
  const y = ctx.createBuffer(rows * 4);
  const record = (enc: ReturnType<GpuContext['encoder']>) => {
    for (let i = 0; i < reps; i++) matvec(enc, { kind, rows, cols, w, x, y });
  };
  // warm-up: compiles the pipeline and touches the buffers
  await ctx.scoped(`bench ${kind}`, async () => {
    const enc = ctx.encoder('warmup');
    matvec(enc, { kind, rows, cols, w, x, y });
    enc.submit();
    await ctx.queue.onSubmittedWorkDone();
  });
  // wall clock
  const t0 = performance.now();
  const enc = ctx.encoder('wall');
  record(enc);
  enc.submit();
  await ctx.queue.onSubmittedWorkDone();
  const wallUs = ((performance.now() - t0) * 1000) / reps;
  // timestamps
  let gpuUs: number | null = null;
  if (ctx.caps.timestampQuery) {
    const qs = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
    const resolve = ctx.createBuffer(16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
    const e2 = ctx.encoder('timestamps');
    e2.computePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    record(e2);
    e2.endPass();
    e2.encoder.resolveQuerySet(qs, 0, 2, resolve, 0);
    const back = e2.read(resolve, 0, 16);
    e2.submit();
    const t = new BigUint64Array(await back);
    const ns = Number(t[1] - t[0]);
    if (ns > 0) gpuUs = ns / 1000 / reps;
    qs.destroy();
    resolve.destroy();
  }
  for (const b of [w, x, y]) b.destroy();
  ctx.check();
  return { gpuUs, wallUs };
}

export async function run(argv: string[]): Promise<number> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (isNode) {
    // exact timestamps (Dawn rounds them to 100 us by default)
    const { nodeGpu } = await import('../src/gpu/node.ts');
    await nodeGpu(['disable-dawn-features=timestamp_quantization']);
  }
  const ctx = await createGpuContext({ gpu: await findGpu() });
  const slow = ctx.caps.fallbackAdapter;
  const rows = Number(arg(argv, 'rows') ?? (slow ? 1024 : 16384));
  const cols = Number(arg(argv, 'cols') ?? (slow ? 1024 : 4096));
  const reps = Number(arg(argv, 'reps') ?? (slow ? 4 : 50));
  const info = ctx.adapterInfo;
  console.log(`adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')}${slow ? ' (fallback/CPU adapter: numbers are not GPU numbers)' : ''}`);
  console.log(`matvec ${rows}x${cols}, ${reps} dispatches per timing, timing: ${ctx.caps.timestampQuery ? 'timestamp-query (+ wall clock)' : 'wall clock'}`);
  const rowsOut: Row[] = [];
  for (const kind of QUANT_KINDS) {
    const bytes = matrixBytes(kind, rows, cols) + (rows + cols) * 4;
    const t = await timeKind(ctx, kind, rows, cols, reps);
    const us = t.gpuUs ?? t.wallUs;
    rowsOut.push({ kind, bytes, gpuUs: t.gpuUs, wallUs: t.wallUs, gbps: bytes / us / 1000, ofCeiling: 0 });
  }
  const ceiling = rowsOut.find((r) => r.kind === 'f32')!.gbps;
  for (const r of rowsOut) r.ofCeiling = r.gbps / ceiling;
  console.log('kind    MiB      gpu us     wall us     GB/s    vs f32 ceiling');
  for (const r of rowsOut)
    console.log(
      `${r.kind.padEnd(6)} ${(r.bytes / 2 ** 20).toFixed(2).padStart(7)} ${(r.gpuUs === null ? '-' : r.gpuUs.toFixed(1)).padStart(10)} ${r.wallUs.toFixed(1).padStart(11)} ${r.gbps.toFixed(3).padStart(8)}    ${(r.ofCeiling * 100).toFixed(0).padStart(4)}%`,
    );
  console.log(`f32 matvec ceiling: ${ceiling.toFixed(3)} GB/s`);
  const json = arg(argv, 'json');
  if (json && isNode) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(json, JSON.stringify({ adapter: info, rows, cols, reps, ceilingGBps: ceiling, results: rowsOut }, null, 2));
    console.log(`wrote ${json}`);
  }
  ctx.destroy();
  return 0;
}
