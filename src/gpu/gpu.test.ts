import { describe, it } from 'vitest';
import { createGpuContext } from './device.ts';
import { linearGrid } from './encoder.ts';
import { BufferPool } from './pool.ts';
import { Params } from './params.ts';
import { expectClose, expectEqual, expectThrows, testContext } from '../kernels/testing/harness.ts';

const ADD_ONE = {
  label: 'test-add',
  code: /* wgsl */ `
struct Params { n: u32, add: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < P.n) { X[g.x] = X[g.x] + P.add; }
}`,
};

describe('gpu layer', () => {
  it('acquires a device with the adapter limits and reports capabilities', async () => {
    const ctx = await testContext();
    const lim = ctx.limits;
    if (lim.maxStorageBufferBindingSize < 128 << 20) throw new Error(`maxStorageBufferBindingSize only ${lim.maxStorageBufferBindingSize}`);
    if (lim.maxStorageBuffersPerShaderStage < 8) throw new Error(`maxStorageBuffersPerShaderStage only ${lim.maxStorageBuffersPerShaderStage}`);
    if (typeof ctx.caps.timestampQuery !== 'boolean' || typeof ctx.caps.subgroups !== 'boolean') throw new Error('caps missing');
  });

  it('records many dispatches into one encoder: params spill over uniform chunks, one submit', async () => {
    const ctx = await testContext();
    const n = 100;
    const x = ctx.upload(new Float32Array(n));
    const kernel = ctx.pipelines.get(ADD_ONE);
    if (ctx.pipelines.get(ADD_ONE) !== kernel) throw new Error('pipeline cache returned a new pipeline');
    await ctx.scoped('many dispatches', async () => {
      const enc = ctx.encoder();
      for (let i = 0; i < 600; i++) enc.dispatch(kernel, new Params().u32(n).f32(i % 2 ? 1 : 0.5).buffer, [x], [2]); // 600 x 256 B > 64 KiB
      const back = enc.read(x);
      enc.submit();
      expectClose(new Float32Array(await back), new Float32Array(n).fill(450), 'sum', { rtol: 0, atol: 0 });
    });
  });

  it('a captured tape replays the same dispatches with patched params words', async () => {
    const ctx = await testContext();
    const n = 64;
    const x = ctx.upload(new Float32Array(n));
    const kernel = ctx.pipelines.get(ADD_ONE);
    const enc = ctx.encoder();
    if (!enc.capture()) throw new Error('capture refused on a fresh encoder');
    enc.dispatch(kernel, new Params().u32(n).f32(1).buffer, [x], [1]);
    const at = enc.lastUniform!;
    enc.dispatch(kernel, new Params().u32(n).f32(2).buffer, [x], [1]);
    const tape = enc.endCapture();
    enc.submit();
    if (!tape || tape.ops.length !== 2) throw new Error(`tape: ${tape?.ops.length} ops`);
    // replay: the first dispatch now covers 10 elements (params word 0 patched), the second all
    const again = ctx.encoder();
    if (!again.replay(tape)) throw new Error('replay refused');
    again.patchU32(at, 0, 10);
    const back = again.read(x);
    again.submit();
    const want = Float32Array.from({ length: n }, (_, i) => (i < 10 ? 6 : 5));
    expectClose(new Float32Array(await back), want, 'after replay', { rtol: 0, atol: 0 });
    // an encoder that already recorded params cannot replay (its chunks would not match the tape)
    const busy = ctx.encoder();
    busy.dispatch(kernel, new Params().u32(n).f32(0).buffer, [x], [1]);
    if (busy.replay(tape)) throw new Error('replay into a used encoder');
    busy.submit();
    // a copy inside the capture makes the tape unusable
    const withCopy = ctx.encoder();
    withCopy.capture();
    withCopy.dispatch(kernel, new Params().u32(n).f32(0).buffer, [x], [1]);
    withCopy.copy(x, 0, ctx.createBuffer(256), 0, 256);
    if (withCopy.endCapture() !== null) throw new Error('tape kept across a copy');
    withCopy.submit();
    await ctx.queue.onSubmittedWorkDone();
    x.destroy();
  });

  it('rejects a binding larger than maxStorageBufferBindingSize before WebGPU does', async () => {
    const ctx = await testContext();
    const kernel = ctx.pipelines.get(ADD_ONE);
    const huge = { buffer: ctx.createBuffer(256), size: ctx.limits.maxStorageBufferBindingSize + 256 };
    await expectThrows(() => ctx.encoder().dispatch(kernel, null, [huge], [1]), /KernelShapeError.*maxStorageBufferBindingSize/, 'huge binding');
  });

  it('buffer pool recycles by bucket', async () => {
    const ctx = await testContext();
    const pool = new BufferPool(ctx.device);
    const a = pool.acquire(1000, GPUBufferUsage.STORAGE);
    expectEqual([a.size, BufferPool.bucket(3 << 20)], [1024, 3 << 20], 'bucket sizes');
    pool.release(a);
    if (pool.acquire(900, GPUBufferUsage.STORAGE) !== a) throw new Error('pool did not reuse the released buffer');
    if (pool.acquire(900, GPUBufferUsage.STORAGE) === a) throw new Error('pool handed out a buffer in use');
    pool.trim();
  });

  it('linearGrid folds large counts into y', () => {
    expectEqual(linearGrid(100, 64), [2, 1], 'small');
    const [x, y] = linearGrid(65536 * 64 * 3, 64);
    if (x > 65535 || x * y * 64 < 65536 * 64 * 3) throw new Error(`bad grid ${x} x ${y}`);
  });

  it('scoped() turns a shader error into GpuValidationError', async () => {
    const ctx = await testContext();
    await expectThrows(
      () => ctx.scoped('bad shader', () => ctx.pipelines.get({ label: 'broken', code: 'fn main( {' })),
      /GpuValidationError.*validation error in bad shader/,
      'bad shader',
    );
  });

  it('uncaptured errors surface on check(); device loss as GpuDeviceLostError', async () => {
    const ctx = await createGpuContext();
    ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE }); // invalid usage combination
    await ctx.device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    await expectThrows(() => ctx.check(), /GpuValidationError/, 'uncaptured');
    ctx.check(); // errors are reported once
    ctx.device.destroy();
    const lost = await ctx.lost;
    if (lost.name !== 'GpuDeviceLostError' || lost.code !== 'gpu_device_lost') throw new Error(`lost: ${lost.name}`);
    await expectThrows(() => ctx.encoder(), /GpuDeviceLostError.*Reload the model/, 'encoder after loss');
  });

  it('a readback pending when the device is lost rejects with GpuDeviceLostError', async () => {
    const ctx = await createGpuContext();
    const enc = ctx.encoder();
    const back = enc.read(ctx.upload(new Float32Array(64)));
    enc.submit();
    ctx.device.destroy();
    await expectThrows(() => back, /GpuDeviceLostError/, 'pending read');
  });
});
