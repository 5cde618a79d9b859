// GpuEncoder: one command encoder that kernels record into, so a whole token (all layers) can be
// one submit. Kernel wrappers call `dispatch`; nothing submits except `submit()`.
//
// Params: every kernel's binding 0 is a small uniform struct. They are packed into 256-byte slots
// of 64 KiB chunks in CPU memory and uploaded with one writeBuffer per chunk at submit. The chunks
// come from the context's uniform arena (one encoder at a time; queue order makes reusing them for
// the next encoder safe even while the previous one still runs), else from the buffer pool.
// Bind groups: cached per (layout, resources), so a token that repeats the previous token's
// dispatches with the same buffers and param slots creates none (each costs ~20 us of CPU).
// Readbacks: `read` records a copy into a pooled MAP_READ buffer and returns a promise that
// resolves after `submit()` (and the GPU work) completes.
// Tapes: `capture()` ... `endCapture()` keeps the dispatches recorded in between (pipelines, bind
// groups, grids) and their params bytes; `replay(tape)` records the same dispatches into a fresh
// encoder without running the kernel wrappers again (their JS was ~80% of a decode step's CPU
// time), and `patchU32` rewrites the few params words that change between replays (a decode
// step's position). A tape refers to the uniform arena's chunk buffers, so it replays only into
// an encoder that holds the arena.

import { GpuDeviceLostError, KernelShapeError } from './errors.ts';
import type { Kernel } from './pipelines.ts';
import type { GpuContext } from './device.ts';

/** A whole buffer or a range of one (offset: multiple of 256; size: multiple of 4). */
export type BufferArg = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export function bufferOf(b: BufferArg): GPUBuffer {
  return 'buffer' in b ? b.buffer : b;
}

/** Byte size of a binding. */
export function bindingSize(b: BufferArg): number {
  if (!('buffer' in b)) return b.size;
  return b.size ?? b.buffer.size - (b.offset ?? 0);
}

/**
 * Workgroup grid for `threads` invocations of `wg` threads each, folded into y when x would
 * exceed `max` groups. Kernels compute the flat id as (wid.y * nwg.x + wid.x) * WG + lid.x and
 * return when it is >= threads.
 */
export function linearGrid(threads: number, wg: number, max = 65535): [number, number] {
  const groups = Math.ceil(threads / wg);
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

const CHUNK = 64 * 1024;

interface Chunk {
  buffer: GPUBuffer;
  cpu: Uint8Array<ArrayBuffer>;
  used: number;
  pooled: boolean;
}

const MAX_BIND_GROUPS = 8192;

/** Dispatches recorded by `GpuEncoder.capture`, replayable with `GpuEncoder.replay`. */
export interface Tape {
  ops: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; x: number; y: number; z: number }[];
  /** the uniform arena chunks as recorded: buffer and params bytes */
  chunks: { buffer: GPUBuffer; bytes: Uint8Array }[];
}

/** Where a dispatch's params live in its encoder's uniform chunks (for `patchU32` after a replay). */
export interface UniformSlot {
  chunk: number;
  offset: number;
}

interface PendingRead {
  staging: GPUBuffer;
  size: number;
  resolve(v: ArrayBuffer): void;
  reject(e: unknown): void;
}

export class GpuEncoder {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly chunks: Chunk[] = [];
  private readonly reads: PendingRead[] = [];
  private submitted = false;
  private readonly arena: GpuContext['uniformArena'] | null;
  private lastPass: GPUComputePassEncoder | null = null;
  private lastPipeline: GPUComputePipeline | null = null;
  /** dispatches recorded so far (for stats) */
  dispatches = 0;
  /** subclasses that intercept `dispatch` (profiling) set this false: replays would bypass them */
  protected readonly replayable: boolean = true;
  private tape: Tape | null = null;
  private tapeBroken = false;
  /** params location of the last dispatch recorded with params */
  lastUniform: UniformSlot | null = null;

  constructor(
    readonly ctx: GpuContext,
    readonly label = 'webmoe',
  ) {
    ctx.check();
    this.encoder = ctx.device.createCommandEncoder({ label });
    const a = ctx.uniformArena;
    this.arena = a && !a.busy ? a : null;
    if (this.arena) this.arena.busy = true;
  }

  /** The open compute pass (begun on demand; `desc` only applies when a new pass starts). */
  computePass(desc?: GPUComputePassDescriptor): GPUComputePassEncoder {
    if (this.submitted) throw new Error('GpuEncoder: already submitted; create a new encoder');
    if (desc) this.tapeBroken = true;
    if (!this.pass) this.pass = this.encoder.beginComputePass(desc ?? { label: this.label });
    return this.pass;
  }

  endPass(): void {
    if (this.pass) {
      this.tapeBroken = true;
      this.pass.end();
      this.pass = null;
    }
  }

  /** Place a params struct in the uniform arena; returns its binding. */
  uniform(data: ArrayBuffer | ArrayBufferView): GPUBufferBinding {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.ceil(Math.max(bytes.byteLength, 16) / 16) * 16;
    const align = this.ctx.hot.uniformAlign;
    if (size > CHUNK) throw new KernelShapeError('uniform', `params struct of ${size} bytes exceeds ${CHUNK}`);
    let c = this.chunks[this.chunks.length - 1];
    if (!c || Math.ceil(c.used / align) * align + size > CHUNK) {
      const k = this.chunks.length;
      if (this.arena) {
        if (!this.arena.chunks[k]) this.arena.chunks[k] = { buffer: this.ctx.createBuffer(CHUNK, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `params-${k}`), cpu: new Uint8Array(CHUNK) };
        c = { ...this.arena.chunks[k], used: 0, pooled: false };
      } else {
        const buffer = this.ctx.pool.acquire(CHUNK, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'params');
        c = { buffer, cpu: new Uint8Array(CHUNK), used: 0, pooled: true };
      }
      this.chunks.push(c);
    }
    const offset = Math.ceil(c.used / align) * align;
    c.cpu.set(bytes, offset);
    c.used = offset + size;
    this.lastUniform = { chunk: this.chunks.length - 1, offset };
    return { buffer: c.buffer, offset, size };
  }

  /**
   * Record one dispatch: binding 0 = params (if any), then `buffers` at bindings 1.., in order
   * (null: that binding is not used by this entry point). `groups`: workgroup counts (x, y, z).
   */
  dispatch(kernel: Kernel, params: ArrayBuffer | null, buffers: (BufferArg | null)[], groups: [number, number?, number?]): void {
    const ctx = this.ctx;
    const max = ctx.hot.maxWorkgroups;
    const x = groups[0];
    const y = groups[1] ?? 1;
    const z = groups[2] ?? 1;
    if (!(Number.isInteger(x) && Number.isInteger(y) && Number.isInteger(z) && x >= 0 && y >= 0 && z >= 0 && x <= max && y <= max && z <= max))
      throw new KernelShapeError(kernel.label, `workgroup counts (${x}, ${y}, ${z}) outside [0, ${max}]`);
    if (x === 0 || y === 0 || z === 0) return;
    // bind group: looked up by (kernel, params slot, resources); built and checked only on a miss
    let key = `${kernel.id}`;
    const u = params ? this.uniform(params) : null;
    if (u) key += `|${ctx.idOf(u.buffer)}@${u.offset}`;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (!b) continue;
      if ('buffer' in b) key += `|${i}:${ctx.idOf(b.buffer)}@${b.offset ?? 0}+${b.size ?? -1}`;
      else key += `|${i}:${ctx.idOf(b)}`;
    }
    let bindGroup = ctx.bindGroups.get(key);
    if (!bindGroup) {
      const maxBinding = ctx.hot.maxBinding;
      const entries: GPUBindGroupEntry[] = [];
      if (u) entries.push({ binding: 0, resource: u });
      buffers.forEach((b, i) => {
        if (!b) return;
        if (bindingSize(b) > maxBinding)
          throw new KernelShapeError(
            kernel.label,
            `binding ${i + 1} is ${bindingSize(b)} bytes, over this device's maxStorageBufferBindingSize (${maxBinding}); ` +
              `bind a range of the buffer or split the tensor into row blocks`,
          );
        const resource: GPUBufferBinding = 'buffer' in b ? { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } : { buffer: b };
        entries.push({ binding: i + 1, resource });
      });
      if (ctx.bindGroups.size >= MAX_BIND_GROUPS) ctx.bindGroups.clear();
      bindGroup = ctx.device.createBindGroup({ layout: kernel.layout, entries, label: kernel.label });
      ctx.bindGroups.set(key, bindGroup);
    }
    const pass = this.pass ?? this.computePass();
    if (pass !== this.lastPass || kernel.pipeline !== this.lastPipeline) pass.setPipeline(kernel.pipeline);
    this.lastPass = pass;
    this.lastPipeline = kernel.pipeline;
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    this.tape?.ops.push({ pipeline: kernel.pipeline, bindGroup, x, y, z });
  }

  /**
   * Start keeping the dispatches recorded from now on (see Tape). Returns false when this encoder
   * cannot make a replayable tape (no uniform arena, params already recorded, or a subclass).
   */
  capture(): boolean {
    if (!this.replayable || !this.arena || this.chunks.length > 0 || this.submitted) return false;
    this.tape = { ops: [], chunks: [] };
    this.tapeBroken = false;
    return true;
  }

  /** The tape since `capture()`, or null when something not replayable was recorded (a copy, a new pass). */
  endCapture(): Tape | null {
    const t = this.tape;
    this.tape = null;
    if (!t || this.tapeBroken || !this.arena) return null;
    t.chunks = this.chunks.map((c) => ({ buffer: c.buffer, bytes: c.cpu.slice(0, c.used) }));
    return t;
  }

  /**
   * Record `tape`'s dispatches with its params bytes. Returns false (recording nothing) unless
   * this encoder holds the uniform arena, has recorded no params yet and the arena still has the
   * tape's chunk buffers; the caller then records the dispatches itself.
   */
  replay(tape: Tape): boolean {
    const a = this.arena;
    if (!a || this.chunks.length > 0 || this.submitted || !this.replayable) return false;
    for (let k = 0; k < tape.chunks.length; k++) if (a.chunks[k]?.buffer !== tape.chunks[k].buffer) return false;
    for (let k = 0; k < tape.chunks.length; k++) {
      const c = a.chunks[k];
      const bytes = tape.chunks[k].bytes;
      c.cpu.set(bytes);
      this.chunks.push({ buffer: c.buffer, cpu: c.cpu, used: bytes.byteLength, pooled: false });
    }
    const pass = this.pass ?? this.computePass();
    let last = pass === this.lastPass ? this.lastPipeline : null;
    for (const op of tape.ops) {
      if (op.pipeline !== last) pass.setPipeline(op.pipeline);
      last = op.pipeline;
      pass.setBindGroup(0, op.bindGroup);
      pass.dispatchWorkgroups(op.x, op.y, op.z);
    }
    this.lastPass = pass;
    this.lastPipeline = last;
    this.dispatches += tape.ops.length;
    return true;
  }

  /** Overwrite u32 word `word` of the params at `at` (after `replay`, before `submit`). */
  patchU32(at: UniformSlot, word: number, value: number): void {
    const c = this.chunks[at.chunk];
    if (!c || at.offset + 4 * word + 4 > c.used) throw new KernelShapeError('patchU32', `no params word ${word} at chunk ${at.chunk} offset ${at.offset}`);
    new DataView(c.cpu.buffer, c.cpu.byteOffset).setUint32(at.offset + 4 * word, value >>> 0, true);
  }

  /** Buffer-to-buffer copy (ends the open compute pass). Offsets and size: multiples of 4. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Read `size` bytes of `src` at `offset` after this encoder's work; resolves after submit(). */
  read(src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
    if (offset % 4 || size % 4) throw new KernelShapeError('read', `offset ${offset} and size ${size} must be multiples of 4`);
    const staging = this.ctx.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.copy(src, offset, staging, 0, size);
    return new Promise((resolve, reject) => this.reads.push({ staging, size, resolve, reject }));
  }

  /**
   * Upload params, submit the command buffer (after `before`, in the same queue.submit), start
   * the pending readbacks.
   */
  submit(before: GPUCommandBuffer[] = []): void {
    if (this.submitted) throw new Error('GpuEncoder: submit() called twice');
    this.endPass();
    this.submitted = true;
    const { device, pool } = this.ctx;
    for (const c of this.chunks) device.queue.writeBuffer(c.buffer, 0, c.cpu, 0, c.used);
    device.queue.submit([...before, this.encoder.finish()]);
    for (const c of this.chunks) if (c.pooled) pool.release(c.buffer);
    if (this.arena) this.arena.busy = false;
    for (const r of this.reads) {
      r.staging.mapAsync(GPUMapMode.READ, 0, r.size).then(
        () => {
          const out = r.staging.getMappedRange(0, r.size).slice(0);
          r.staging.unmap();
          pool.release(r.staging);
          r.resolve(out);
        },
        // internal staging buffers only fail to map when the device is gone
        (e) => r.reject(this.ctx.lostError ?? new GpuDeviceLostError('unknown', `readback failed: ${(e as Error).message}`)),
      );
    }
  }
}
