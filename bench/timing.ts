// GPU timing for the bench: timestamp queries around one compute pass (exact when Dawn's
// timestamp quantization is off, see main.ts) with wall clock as the fallback, and a profiling
// encoder that puts every dispatch in its own timestamped pass to attribute a forward pass's GPU
// time to its kernels.

import type { GpuContext } from '../src/gpu/device.ts';
import { GpuEncoder } from '../src/gpu/encoder.ts';
import type { Kernel } from '../src/gpu/pipelines.ts';
import type { BufferArg } from '../src/gpu/encoder.ts';

/**
 * Microseconds per repetition of `record` (recorded `reps` times into one pass), after `warmMs`
 * of running it: an H100 drops its clocks within milliseconds of idling (e.g. while the next
 * matrix uploads) and a cold timing read a third of the warm bandwidth.
 */
export async function gpuMicros(ctx: GpuContext, record: (enc: GpuEncoder) => void, reps: number, warmMs = 40): Promise<{ us: number; wallUs: number }> {
  // warm-up (pipelines, first binding of buffers, clocks)
  const warm = performance.now();
  do {
    const w = ctx.encoder('warmup');
    for (let i = 0; i < reps; i++) record(w);
    w.submit();
    await ctx.queue.onSubmittedWorkDone();
  } while (performance.now() - warm < warmMs && !ctx.caps.fallbackAdapter);
  const t0 = performance.now();
  const e = ctx.encoder('wall');
  for (let i = 0; i < reps; i++) record(e);
  e.submit();
  await ctx.queue.onSubmittedWorkDone();
  const wallUs = ((performance.now() - t0) * 1000) / reps;
  if (!ctx.caps.timestampQuery) return { us: wallUs, wallUs };
  const qs = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = ctx.createBuffer(16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
  const e2 = ctx.encoder('timestamps');
  e2.computePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
  for (let i = 0; i < reps; i++) record(e2);
  e2.endPass();
  e2.encoder.resolveQuerySet(qs, 0, 2, resolve, 0);
  const back = e2.read(resolve, 0, 16);
  e2.submit();
  const t = new BigUint64Array(await back);
  qs.destroy();
  resolve.destroy();
  const ns = Number(t[1] - t[0]);
  ctx.check();
  return { us: ns > 0 ? ns / 1000 / reps : wallUs, wallUs };
}

/** The smaller of `tries` gpuMicros timings (clocks vary between runs of the same kernel). */
export async function bestMicros(ctx: GpuContext, record: (enc: GpuEncoder) => void, reps: number, tries = 2): Promise<number> {
  let us = Infinity;
  for (let i = 0; i < tries; i++) us = Math.min(us, (await gpuMicros(ctx, record, reps)).us);
  return us;
}

const MAX_QUERIES = 4096;

/**
 * Encoder whose every dispatch runs in its own pass with begin/end timestamps; `profile()` after
 * the GPU is done gives microseconds per kernel label. Separate passes add a little time each,
 * so the sum exceeds an unprofiled run; the shares are what it is for.
 */
export class ProfilingEncoder extends GpuEncoder {
  static querySet: GPUQuerySet | null = null;
  static labels: string[] = [];
  static resolved: Promise<ArrayBuffer>[] = [];
  private readonly first: number;
  /** a replayed tape would bypass the per-dispatch passes */
  protected override readonly replayable = false;

  constructor(ctx: GpuContext, label?: string) {
    super(ctx, label);
    ProfilingEncoder.querySet ??= ctx.device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    this.first = ProfilingEncoder.labels.length;
  }

  override dispatch(kernel: Kernel, params: ArrayBuffer | null, buffers: (BufferArg | null)[], groups: [number, number?, number?]): void {
    const i = ProfilingEncoder.labels.length;
    if (2 * i + 2 > MAX_QUERIES) return super.dispatch(kernel, params, buffers, groups);
    this.endPass();
    this.computePass({ timestampWrites: { querySet: ProfilingEncoder.querySet!, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    ProfilingEncoder.labels.push(kernel.label);
    super.dispatch(kernel, params, buffers, groups);
    this.endPass();
  }

  override submit(): void {
    this.endPass();
    const n = ProfilingEncoder.labels.length - this.first;
    if (n > 0) {
      const buf = this.ctx.createBuffer(n * 16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
      this.encoder.resolveQuerySet(ProfilingEncoder.querySet!, 2 * this.first, 2 * n, buf, 0);
      ProfilingEncoder.resolved.push(this.read(buf, 0, n * 16).finally(() => buf.destroy()));
    }
    super.submit();
  }

  /** Route ctx.encoder() through profiling encoders while `fn` runs; returns us per label. */
  static async profile(ctx: GpuContext, fn: () => Promise<unknown>): Promise<{ label: string; us: number; count: number }[]> {
    ProfilingEncoder.labels = [];
    ProfilingEncoder.resolved = [];
    const original = ctx.encoder;
    ctx.encoder = (label?: string) => new ProfilingEncoder(ctx, label);
    try {
      await fn();
    } finally {
      ctx.encoder = original;
    }
    const parts = await Promise.all(ProfilingEncoder.resolved);
    const times: number[] = [];
    for (const p of parts) {
      const t = new BigUint64Array(p);
      for (let i = 0; i < t.length; i += 2) times.push(Number(t[i + 1] - t[i]) / 1000);
    }
    const by = new Map<string, { us: number; count: number }>();
    ProfilingEncoder.labels.forEach((l, i) => {
      const e = by.get(l) ?? { us: 0, count: 0 };
      e.us += times[i] ?? 0;
      e.count++;
      by.set(l, e);
    });
    return [...by].map(([label, v]) => ({ label, ...v })).sort((a, b) => b.us - a.us);
  }
}
