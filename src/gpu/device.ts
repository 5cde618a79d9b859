// Device acquisition: find WebGPU (navigator.gpu in a page or worker, the `webgpu` package in
// Node), request the adapter's full limits (large models need big storage bindings) and the
// optional features we can use, and surface device loss and uncaptured errors as typed errors.

import probeCode from './f16-probe.wgsl?raw';
import { BufferPool } from './pool.ts';
import { PipelineCache } from './pipelines.ts';
import { GpuEncoder } from './encoder.ts';
import { GpuDeviceLostError, GpuUnavailableError, GpuValidationError, toGpuError } from './errors.ts';

/**
 * Dawn's experimental subgroup matrices (VK_KHR_cooperative_matrix, Metal simdgroup matrices):
 * exposed only with unsafe APIs allowed (Chrome: --enable-unsafe-webgpu; Node: the `experimental`
 * option). The prefill products use its f16 form where present (matmul-hmma.wgsl), else its i8
 * form where enabled (matmul-mma.wgsl). On NVIDIA, Dawn exposes f16 (`shader-f16` and the f16
 * matrix configurations) only with its `vulkan_enable_f16_on_nvidia` toggle on (Chrome:
 * --enable-dawn-features=vulkan_enable_f16_on_nvidia; Node: the `experimental` option).
 */
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

/** Dawn's flag for the `experimental` option (Node): unsafe APIs, and f16 on NVIDIA's Vulkan driver. */
export const DAWN_EXPERIMENTAL = 'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia';

/** Limits raised to the adapter's maximum. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'maxBindGroups',
] as const;

const OPTIONAL_FEATURES = ['subgroups', 'shader-f16', 'timestamp-query', SUBGROUP_MATRIX] as const;

export interface GpuCaps {
  subgroups: boolean;
  shaderF16: boolean;
  timestampQuery: boolean;
  /** SwiftShader or another CPU adapter: prefer one-thread-per-row kernels */
  fallbackAdapter: boolean;
  /** smallest subgroup the adapter may run compute with (0 without `subgroups` or when unknown) */
  subgroupMinSize: number;
  /** WGSL's packed_4x8_integer_dot_product (dot4I8Packed) */
  packedDot: boolean;
  /** subgroup matrices with an i8 16 x 16 x 32 -> i32 configuration, subgroups of exactly 32 */
  subgroupMatrixI8: boolean;
  /** subgroup matrices with an f16 16 x 16 x 16 -> f32 configuration, shader-f16, subgroups of exactly 32 */
  subgroupMatrixF16: boolean;
  /** unpack2x16float keeps f16 subnormals (measured at creation by f16-probe.wgsl) */
  f16Subnormals: boolean;
}

export interface GpuOptions {
  /** a GPU object to use instead of navigator.gpu / the `webgpu` package */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** features to leave off even when present (e.g. to test the f32 paths) */
  disableFeatures?: string[];
  /** Node: allow Dawn's unsafe APIs, which exposes experimental features (subgroup matrices), and f16 on NVIDIA */
  experimental?: boolean;
}

interface MatrixConfig { M: number; N: number; K: number; componentType: string; resultComponentType: string }

export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly caps: GpuCaps;
  readonly queue: GPUQueue;
  /** set once the device is lost */
  lostError: GpuDeviceLostError | null = null;
  /** resolves when the device is lost (never rejects) */
  readonly lost: Promise<GpuDeviceLostError>;
  private readonly uncaptured: GpuValidationError[] = [];
  private dummyBuffer: GPUBuffer | null = null;
  /**
   * Uniform chunks reused by one encoder at a time (see GpuEncoder): the same dispatch sequence
   * then gets the same (buffer, offset) params every token, so its bind groups can be cached.
   */
  readonly uniformArena: { chunks: { buffer: GPUBuffer; cpu: Uint8Array<ArrayBuffer> }[]; busy: boolean } = { chunks: [], busy: false };
  /** bind groups by (layout, entries); cleared when it grows past a few thousand */
  readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  /** limits read on every dispatch, as plain numbers (each read of device.limits is a native call) */
  readonly hot: { maxWorkgroups: number; maxBinding: number; uniformAlign: number };

  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: { vendor: string; architecture: string; device: string; description: string },
    fallbackAdapter: boolean,
    subgroupMinSize = 0,
    packedDot = false,
    subgroupMatrixI8 = false,
    subgroupMatrixF16 = false,
    f16Subnormals = false,
  ) {
    this.queue = device.queue;
    const lim = device.limits;
    this.hot = { maxWorkgroups: lim.maxComputeWorkgroupsPerDimension, maxBinding: lim.maxStorageBufferBindingSize, uniformAlign: lim.minUniformBufferOffsetAlignment };
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    const f = device.features;
    this.caps = {
      subgroups: f.has('subgroups'),
      shaderF16: f.has('shader-f16'),
      timestampQuery: f.has('timestamp-query'),
      fallbackAdapter,
      subgroupMinSize: f.has('subgroups') ? subgroupMinSize : 0,
      packedDot,
      subgroupMatrixI8: subgroupMatrixI8 && f.has(SUBGROUP_MATRIX as GPUFeatureName),
      subgroupMatrixF16: subgroupMatrixF16 && f.has(SUBGROUP_MATRIX as GPUFeatureName) && f.has('shader-f16'),
      f16Subnormals,
    };
    this.lost = device.lost.then((info) => {
      this.lostError = new GpuDeviceLostError(info.reason ?? 'unknown', info.message);
      return this.lostError;
    });
    device.addEventListener('uncapturederror', (ev) => {
      this.uncaptured.push(toGpuError((ev as GPUUncapturedErrorEvent).error, 'uncaptured'));
    });
  }

  /** A small stable number for a GPU object (bind group cache keys). */
  idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Throw the device-lost error or the first uncaptured GPU error since the last check. */
  check(): void {
    if (this.lostError) throw this.lostError;
    const e = this.uncaptured.shift();
    if (e) {
      this.uncaptured.length = 0;
      throw e;
    }
  }

  encoder(label?: string): GpuEncoder {
    return new GpuEncoder(this, label);
  }

  /** A zero-filled 256-byte storage buffer for bindings a kernel call does not use. */
  get dummy(): GPUBuffer {
    if (!this.dummyBuffer) this.dummyBuffer = this.createBuffer(256, GPUBufferUsage.STORAGE, 'dummy');
    return this.dummyBuffer;
  }

  createBuffer(bytes: number, usage: GPUBufferUsageFlags = STORAGE_RW, label?: string): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage, label });
  }

  /** A new buffer holding `data` (padded to 4 bytes). */
  upload(data: ArrayBufferView | ArrayBuffer, usage: GPUBufferUsageFlags = STORAGE_RW, label?: string): GPUBuffer {
    const src = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const buf = this.device.createBuffer({ size: Math.max(4, Math.ceil(src.byteLength / 4) * 4), usage, label, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(src);
    buf.unmap();
    return buf;
  }

  /** Copy `size` bytes of `src` back to the CPU (one submit). */
  async read(src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
    const enc = this.encoder('read');
    const p = enc.read(src, offset, size);
    enc.submit();
    return p;
  }

  async readF32(src: GPUBuffer, offset = 0, count = (src.size - offset) / 4): Promise<Float32Array> {
    return new Float32Array(await this.read(src, offset, count * 4));
  }

  async readU32(src: GPUBuffer, offset = 0, count = (src.size - offset) / 4): Promise<Uint32Array> {
    return new Uint32Array(await this.read(src, offset, count * 4));
  }

  /** Run `fn` inside validation + out-of-memory error scopes; throws the first error as a typed error. */
  async scoped<T>(where: string, fn: () => T | Promise<T>): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let out: T;
    try {
      out = await fn();
    } finally {
      const v = await this.device.popErrorScope();
      const m = await this.device.popErrorScope();
      if (v) throw toGpuError(v, where);
      if (m) throw toGpuError(m, where);
    }
    this.check();
    return out;
  }

  destroy(): void {
    this.bindGroups.clear();
    for (const c of this.uniformArena.chunks) c.buffer.destroy();
    this.uniformArena.chunks.length = 0;
    this.pool.trim();
    this.device.destroy();
  }
}

/** STORAGE | COPY_SRC | COPY_DST: the usage of activations and weights. */
const STORAGE_RW = 0x80 | 0x04 | 0x08;

/**
 * navigator.gpu when present, else the `webgpu` package (Node; `experimental` allows Dawn's unsafe
 * APIs: the first call in a process sets Dawn's flags, node.ts keeps one GPU object).
 */
export async function findGpu(experimental = false): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) throw new GpuUnavailableError('navigator.gpu is missing in this browser context');
  try {
    const { nodeGpu } = await import('./node.ts');
    return await nodeGpu(experimental ? [DAWN_EXPERIMENTAL] : []);
  } catch (e) {
    throw new GpuUnavailableError(`the "webgpu" package could not be loaded (${(e as Error).message})`);
  }
}

/** Acquire an adapter and a device with the adapter's limits and our optional features. */
export async function createGpuContext(opts: GpuOptions = {}): Promise<GpuContext> {
  const gpu = opts.gpu ?? (await findGpu(opts.experimental));
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new GpuUnavailableError('requestAdapter() returned null (no usable GPU driver)');
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const disabled = new Set(opts.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f)) as GPUFeatureName[];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webmoe' });
  } catch (e) {
    throw new GpuUnavailableError(`requestDevice failed (${(e as Error).message})`);
  }
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const fallback = !!(info as { isFallbackAdapter?: boolean }).isFallbackAdapter || /swiftshader/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
  return new GpuContext(
    device,
    { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' },
    fallback,
    (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
    !!(gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures?.has('packed_4x8_integer_dot_product'),
    hasMatrix(info, 'i8', 32, 'i32'),
    hasMatrix(info, 'f16', 16, 'f32'),
    await keepsF16Subnormals(device),
  );
}

/** Run f16-probe.wgsl once: true when both subnormal halves come back exact (false on any error). */
async function keepsF16Subnormals(device: GPUDevice): Promise<boolean> {
  const made: GPUBuffer[] = [];
  const buffer = (size: number, usage: number) => {
    const b = device.createBuffer({ size, usage, label: 'f16-probe' });
    made.push(b);
    return b;
  };
  try {
    const input = buffer(4, STORAGE_RW);
    const out = buffer(8, STORAGE_RW);
    const read = buffer(8, 0x01 | 0x08); // MAP_READ | COPY_DST
    device.queue.writeBuffer(input, 0, new Uint32Array([0x80010200]));
    const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module: device.createShaderModule({ code: probeCode, label: 'f16-probe' }), entryPoint: 'main' } });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: input } }, { binding: 1, resource: { buffer: out } }] });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, 8);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(1); // GPUMapMode.READ
    const [lo, hi] = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    return lo === 2 ** -15 && hi === -(2 ** -24);
  } catch {
    return false;
  } finally {
    for (const b of made) b.destroy();
  }
}

/** A 16 x 16 x K subgroup matrix of `type` into `result` on an adapter whose subgroups are all 32 wide. */
function hasMatrix(info: GPUAdapterInfo, type: string, K: number, result: string): boolean {
  const i = info as unknown as { subgroupMatrixConfigs?: MatrixConfig[]; subgroupMinSize?: number; subgroupMaxSize?: number };
  if (i.subgroupMinSize !== 32 || i.subgroupMaxSize !== 32) return false;
  return !!i.subgroupMatrixConfigs?.some((c) => c.M === 16 && c.N === 16 && c.K === K && c.componentType === type && c.resultComponentType === result);
}
