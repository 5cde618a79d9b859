// What the adapter can reach at all, measured in the same run as the engine: device copy, the f32
// matvec ceiling (bench/wgsl/ceilings.wgsl), host -> GPU upload paths (writeBuffer, a fresh
// mappedAtCreation staging buffer, reused rings of MAP_WRITE staging buffers), per-dispatch cost
// on the GPU and on the CPU (with a new bind group per dispatch, as the engine records), per-submit
// cost and the readback round trip. Wall clock around submit + onSubmittedWorkDone.

import type { GpuContext } from '../src/gpu/device.ts';
import code from './wgsl/ceilings.wgsl?raw';

export interface Ceilings {
  copyGBps: number;
  f32Matvec: { rows: number; cols: number; GBps: number; us: number };
  upload: { writeBufferGBps: number; mappedAtCreationGBps: number; rings: { buffers: number; MiB: number; GBps: number }[]; bestGBps: number; best: string };
  dispatchUs: number;
  dispatchNewBindGroupUs: number;
  cpuRecordUsPerDispatch: number;
  submitUs: number;
  readbackUs: number;
}

const S = 0x80; // STORAGE
const CS = 0x04;
const CD = 0x08;
const MW = 0x02; // MAP_WRITE
const MR = 0x01; // MAP_READ
const UNI = 0x40;

async function timeit(ctx: GpuContext, fn: () => void, iters: number): Promise<number> {
  fn();
  await ctx.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  await ctx.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / iters; // ms
}

/** GB/s of the f32 matvec ceiling kernel (after a warm-up that raises the GPU's clocks). */
export async function measureF32Matvec(ctx: GpuContext, small: boolean): Promise<Ceilings['f32Matvec']> {
  const dev = ctx.device;
  const q = ctx.queue;
  const module = dev.createShaderModule({ code, label: 'ceilings' });
  const mv = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'f32_matvec' } });
  const rows = small ? 1024 : 16384;
  const cols = small ? 1024 : 4096;
  const W = dev.createBuffer({ size: rows * cols * 4, usage: S | CD });
  const X = dev.createBuffer({ size: cols * 4, usage: S | CD });
  const Y = dev.createBuffer({ size: rows * 4, usage: S | CS });
  const P = dev.createBuffer({ size: 16, usage: UNI | CD });
  q.writeBuffer(P, 0, new Uint32Array([rows, cols / 4, 0, 0]));
  const bg = dev.createBindGroup({ layout: mv.getBindGroupLayout(0), entries: [P, W, X, Y].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const gx = Math.min(rows, 65535);
  const reps = small ? 2 : 20;
  const run = () => {
    const e = dev.createCommandEncoder();
    const c = e.beginComputePass();
    c.setPipeline(mv);
    c.setBindGroup(0, bg);
    for (let i = 0; i < 5; i++) c.dispatchWorkgroups(gx, Math.ceil(rows / gx));
    c.end();
    q.submit([e.finish()]);
  };
  // the GPU idles at a low clock: keep it busy ~1.5 s first, then take the best of 3 timings
  // (a first run that skipped this measured a fifth of the bandwidth)
  const warm = performance.now();
  while (!small && performance.now() - warm < 1500) {
    for (let i = 0; i < 20; i++) run();
    await q.onSubmittedWorkDone();
  }
  let mvMs = Infinity;
  for (let trial = 0; trial < (small ? 1 : 3); trial++) mvMs = Math.min(mvMs, await timeit(ctx, run, small ? 1 : reps));
  const us = (mvMs * 1000) / 5;
  const mvGBps = (rows * cols * 4 + cols * 4 + rows * 4) / us / 1000;
  [W, X, Y, P].forEach((x) => x.destroy());
  return { rows, cols, GBps: mvGBps, us };
}

export async function measureCeilings(ctx: GpuContext, small: boolean, log: (s: string) => void): Promise<Ceilings> {
  const dev = ctx.device;
  const q = ctx.queue;
  const module = dev.createShaderModule({ code, label: 'ceilings' });
  const pipe = (entryPoint: string) => dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint } });

  // device copy
  const cn = small ? 16 << 20 : 1 << 30;
  const a = dev.createBuffer({ size: cn, usage: CS | CD | S });
  const b = dev.createBuffer({ size: cn, usage: CS | CD | S });
  const copyMs = await timeit(ctx, () => {
    const e = dev.createCommandEncoder();
    e.copyBufferToBuffer(a, 0, b, 0, cn);
    q.submit([e.finish()]);
  }, small ? 2 : 10);
  a.destroy();
  b.destroy();
  const copyGBps = (2 * cn) / copyMs / 1e6;
  log(`copy ${(cn / 2 ** 20).toFixed(0)} MiB: ${copyGBps.toFixed(1)} GB/s (read + write)`);

  // f32 matvec ceiling
  const f32Matvec = await measureF32Matvec(ctx, small);
  const { rows, cols, us, GBps: mvGBps } = f32Matvec;
  log(`f32 matvec ${rows}x${cols}: ${us.toFixed(1)} us, ${mvGBps.toFixed(1)} GB/s`);

  // uploads
  const un = small ? 32 << 20 : 256 << 20;
  const host = new Uint8Array(un);
  for (let i = 0; i < un; i += 4096) host[i] = i & 255;
  const dst = dev.createBuffer({ size: un, usage: CD | S });
  const wbMs = await timeit(ctx, () => q.writeBuffer(dst, 0, host), small ? 2 : 6);
  const writeBufferGBps = un / wbMs / 1e6;
  const macMs = await timeit(ctx, () => {
    const st = dev.createBuffer({ size: un, usage: MW | CS, mappedAtCreation: true });
    new Uint8Array(st.getMappedRange()).set(host);
    st.unmap();
    const e = dev.createCommandEncoder();
    e.copyBufferToBuffer(st, 0, dst, 0, un);
    q.submit([e.finish()]);
    st.destroy();
  }, small ? 2 : 6);
  const mappedAtCreationGBps = un / macMs / 1e6;
  const rings: Ceilings['upload']['rings'] = [];
  for (const [R, MiB] of small ? [[4, 4]] : [[4, 16], [8, 16], [4, 64]]) {
    const C = MiB << 20;
    const ring = Array.from({ length: R }, () => dev.createBuffer({ size: C, usage: MW | CS, mappedAtCreation: true }));
    const pending: (Promise<void> | null)[] = ring.map(() => null);
    const passes = small ? 1 : 3;
    const t0 = performance.now();
    let k = 0;
    for (let rep = 0; rep < passes; rep++)
      for (let off = 0; off < un; off += C, k++) {
        const i = k % R;
        if (pending[i]) await pending[i];
        const st = ring[i];
        new Uint8Array(st.getMappedRange()).set(host.subarray(off, off + C));
        st.unmap();
        const e = dev.createCommandEncoder();
        e.copyBufferToBuffer(st, 0, dst, off, C);
        q.submit([e.finish()]);
        pending[i] = st.mapAsync(GPUMapMode.WRITE);
      }
    await q.onSubmittedWorkDone();
    await Promise.all(pending);
    const GBps = (passes * un) / (performance.now() - t0) / 1e6;
    rings.push({ buffers: R, MiB, GBps });
    ring.forEach((x) => x.destroy());
  }
  dst.destroy();
  const paths: [string, number][] = [['writeBuffer', writeBufferGBps], ['mappedAtCreation', mappedAtCreationGBps], ...rings.map((r): [string, number] => [`ring ${r.buffers}x${r.MiB}MiB`, r.GBps])];
  const [best, bestGBps] = paths.reduce((x, y) => (y[1] > x[1] ? y : x));
  log(`upload ${(un / 2 ** 20).toFixed(0)} MiB: ${paths.map(([n, g]) => `${n} ${g.toFixed(2)}`).join(', ')} GB/s; best ${best}`);

  // dispatch / submit / readback
  const tiny = pipe('tiny');
  const tb = dev.createBuffer({ size: 256, usage: S | CS });
  const tbg = dev.createBindGroup({ layout: tiny.getBindGroupLayout(0), entries: [{ binding: 3, resource: { buffer: tb } }] });
  const N = small ? 200 : 2000;
  const dMs = await timeit(ctx, () => {
    const e = dev.createCommandEncoder();
    const c = e.beginComputePass();
    c.setPipeline(tiny);
    c.setBindGroup(0, tbg);
    for (let i = 0; i < N; i++) c.dispatchWorkgroups(1);
    c.end();
    q.submit([e.finish()]);
  }, 3);
  let recordMs = 0;
  let recorded = 0; // passes recorded (timeit's warm-up included)
  const dnMs = await timeit(ctx, () => {
    const t0 = performance.now();
    const e = dev.createCommandEncoder();
    const c = e.beginComputePass();
    for (let i = 0; i < N; i++) {
      c.setPipeline(tiny);
      c.setBindGroup(0, dev.createBindGroup({ layout: tiny.getBindGroupLayout(0), entries: [{ binding: 3, resource: { buffer: tb } }] }));
      c.dispatchWorkgroups(1);
    }
    c.end();
    q.submit([e.finish()]);
    recordMs += performance.now() - t0;
    recorded++;
  }, 3);
  const sMs = await timeit(ctx, () => {
    for (let i = 0; i < 100; i++) {
      const e = dev.createCommandEncoder();
      const c = e.beginComputePass();
      c.setPipeline(tiny);
      c.setBindGroup(0, tbg);
      c.dispatchWorkgroups(1);
      c.end();
      q.submit([e.finish()]);
    }
  }, 3);
  const rb = dev.createBuffer({ size: 256, usage: MR | CD });
  const t0 = performance.now();
  for (let i = 0; i < 30; i++) {
    const e = dev.createCommandEncoder();
    e.copyBufferToBuffer(tb, 0, rb, 0, 256);
    q.submit([e.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    rb.unmap();
  }
  const readbackUs = ((performance.now() - t0) / 30) * 1000;
  tb.destroy();
  rb.destroy();
  const out: Ceilings = {
    copyGBps,
    f32Matvec,
    upload: { writeBufferGBps, mappedAtCreationGBps, rings, bestGBps, best },
    dispatchUs: (dMs * 1000) / N,
    dispatchNewBindGroupUs: (dnMs * 1000) / N,
    cpuRecordUsPerDispatch: (recordMs * 1000) / (recorded * N),
    submitUs: (sMs * 1000) / 100,
    readbackUs,
  };
  log(`dispatch ${out.dispatchUs.toFixed(2)} us (new bind group each: ${out.dispatchNewBindGroupUs.toFixed(2)} us, CPU record ${out.cpuRecordUsPerDispatch.toFixed(2)} us), submit ${out.submitUs.toFixed(1)} us, readback ${readbackUs.toFixed(1)} us`);
  return out;
}
