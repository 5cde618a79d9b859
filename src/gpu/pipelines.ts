// Pipeline cache keyed by (shader text, entry point, override constants). Kernel wrappers ask for
// their pipeline on every encode; the first call compiles (0.5-2 s per shader on SwiftShader).
//
// Bind group layouts are 'auto' (derived from the shader), so binding 0 is the params uniform and
// every binding a kernel declares must be used by its entry point.

/** A WGSL source file, loaded with `import code from './k.wgsl?raw'`. */
export interface KernelSource {
  label: string;
  code: string;
}

export interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  label: string;
  /** small unique number (bind-group cache keys) */
  id: number;
}

export type Constants = Record<string, number>;

let nextKernelId = 1;

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly kernels = new Map<string, Kernel>();
  /** per shader text, a small id, so keys stay short (building a key from the text on every
   * dispatch cost tens of microseconds of CPU per dispatch) */
  private readonly codeIds = new Map<string, number>();

  constructor(private readonly device: GPUDevice) {}

  private key(src: KernelSource, entryPoint: string, constants: Constants): string {
    let id = this.codeIds.get(src.code);
    if (id === undefined) this.codeIds.set(src.code, (id = this.codeIds.size));
    let c = '';
    for (const k in constants) c += `${k}=${constants[k]},`;
    return `${id}\u0000${src.label}\u0000${entryPoint}\u0000${c}`;
  }

  private module(src: KernelSource): GPUShaderModule {
    let m = this.modules.get(src.code);
    if (!m) {
      m = this.device.createShaderModule({ code: src.code, label: src.label });
      this.modules.set(src.code, m);
    }
    return m;
  }

  private descriptor(src: KernelSource, entryPoint: string, constants: Constants): GPUComputePipelineDescriptor {
    return {
      label: `${src.label}:${entryPoint}`,
      layout: 'auto',
      compute: { module: this.module(src), entryPoint, constants },
    };
  }

  /** The pipeline for (src, entryPoint, constants), compiled synchronously on first use. */
  get(src: KernelSource, entryPoint = 'main', constants: Constants = {}): Kernel {
    const key = this.key(src, entryPoint, constants);
    let k = this.kernels.get(key);
    if (!k) {
      const pipeline = this.device.createComputePipeline(this.descriptor(src, entryPoint, constants));
      k = { pipeline, layout: pipeline.getBindGroupLayout(0), label: `${src.label}:${entryPoint}`, id: nextKernelId++ };
      this.kernels.set(key, k);
    }
    return k;
  }
}
