// Kernel microbenchmark: achieved GB/s of the matvec kernel for every weight kind (f32, f16, q8,
// q4, mxfp4), against the f32 matvec measured in the same run as the ceiling (llm.c style: time
// each variant, print bandwidth against the best the hardware showed).
//
// Timing (timing.ts gpuMicros): timestamp queries around one compute pass of `reps` dispatches
// when the adapter has `timestamp-query`, else wall clock around submit + onSubmittedWorkDone (both
// are printed when available). Weights: synthetic.ts randomPacked. Bytes per matvec = packed
// matrix + x + y.
//
//   npm run bench -- kernels [--rows N] [--cols N] [--reps N] [--json out.json]

import { createGpuContext, findGpu, type GpuContext } from '../src/gpu/device.ts';
import { QUANT_KINDS, matrixBytes, type QuantKind } from '../src/format/quant-layout.ts';
import { matvec } from '../src/kernels/matvec/matvec.ts';
import { Rand, randomPacked } from './synthetic.ts';
import { gpuMicros } from './timing.ts';

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

async function timeKind(ctx: GpuContext, kind: QuantKind, rows: number, cols: number, reps: number): Promise<{ gpuUs: number | null; wallUs: number }> {
  const w = ctx.upload(randomPacked(kind, rows, cols, 1, new Rand(7)));
  const x = ctx.upload(Float32Array.from({ length: cols }, (_, i) => Math.sin(i)));
  const y = ctx.createBuffer(rows * 4);
  const t = await gpuMicros(ctx, (enc) => matvec(enc, { kind, rows, cols, w, x, y }), reps);
  for (const b of [w, x, y]) b.destroy();
  ctx.check();
  return { gpuUs: ctx.caps.timestampQuery ? t.us : null, wallUs: t.wallUs };
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
