// Backend selection: which ModelRunner runs a loaded model. One seam, `RunnerFactory`, so the
// engine never names a backend class:
//
//   'cpu'     the CPU reference (CpuRunner) over the package's dequantized weights
//   'webgpu'  the GPU runner (src/model/gpu-runner.ts), once registered with registerGpuRunner()
//   'auto'    webgpu when a GPU runner is registered and WebGPU is present, else cpu — and the
//             engine says which, and why, in progress reports and stats
//
// Plugging the GPU runner in (when src/model/gpu-runner.ts exists) is one line at start-up, e.g.
// in the worker:   registerGpuRunner(createGpuRunner);

import type { PackedModel } from '../format/quant-layout.ts';
import type { WeightSource } from '../format/weights.ts';
import type { ModelRunner } from '../model/runner.ts';
import { CpuRunner } from '../reference/runner.ts';
import { ReferenceModel } from '../reference/forward.ts';
import type { ShardStore } from '../store/types.ts';
import { BackendUnavailableError } from './load-errors.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** Options the GPU runner takes (the lead's createGpuRunner(packed, opts)). */
export interface GpuRunnerOptions {
  expertBudgetBytes?: number;
  /** where expert blobs can be re-read from (the model's store), when the model lives in one */
  store?: ShardStore;
  modelId?: string;
  maxLength?: number;
  onProgress?: (fraction: number, text: string) => void;
}

export type GpuRunnerFactory = (packed: PackedModel, opts: GpuRunnerOptions) => Promise<ModelRunner> | ModelRunner;

let gpuRunnerFactory: GpuRunnerFactory | null = null;

/** Make the WebGPU runner available to every engine created afterwards in this realm. */
export function registerGpuRunner(factory: GpuRunnerFactory | null): void {
  gpuRunnerFactory = factory;
}

/** What a runner factory gets: the opened model in both forms, and the load options. */
export interface RunnerRequest {
  modelId: string;
  /** canonical f32 weights (dequantized on read) */
  weights: WeightSource;
  /** packed tensors and expert blobs (a package, or an HF checkpoint packed in memory) */
  packed: () => Promise<PackedModel>;
  store?: ShardStore;
  expertBudgetBytes?: number;
  /** KV capacity in tokens */
  maxLength?: number;
  /** fraction in [0, 1] of this load step */
  onProgress?: (fraction: number, text: string) => void;
}

export interface RunnerChoice {
  runner: ModelRunner;
  /** why this backend, when it is not the one asked for (shown in progress and stats) */
  note: string | null;
}

/** Build a runner for the requested backend. Tests and embedders may pass their own. */
export type RunnerFactory = (backend: BackendChoice, req: RunnerRequest) => Promise<RunnerChoice>;

function webgpuPresent(): boolean {
  return typeof navigator !== 'undefined' && !!(navigator as Navigator & { gpu?: unknown }).gpu;
}

/** Counts weight reads so loading the CPU reference reports progress layer by layer. */
function countingWeights(src: WeightSource, onProgress?: (fraction: number, text: string) => void): WeightSource {
  const L = src.spec.num_hidden_layers;
  const E = src.spec.moe.num_experts;
  const total = 1 + L * (1 + E);
  let done = 0;
  const tick = (what: string) => {
    done++;
    onProgress?.(done / total, what);
  };
  return {
    spec: src.spec,
    globals: async () => {
      const g = await src.globals();
      tick('embeddings and LM head');
      return g;
    },
    layer: async (l) => {
      const w = await src.layer(l);
      tick(`layer ${l + 1}/${L}`);
      return w;
    },
    expert: async (l, e) => {
      const w = await src.expert(l, e);
      tick(`layer ${l + 1}/${L} experts`);
      return w;
    },
  };
}

export async function cpuRunner(req: RunnerRequest): Promise<ModelRunner> {
  const model = await ReferenceModel.load(countingWeights(req.weights, req.onProgress));
  return new CpuRunner(model, req.maxLength);
}

async function gpuRunner(factory: GpuRunnerFactory, req: RunnerRequest): Promise<ModelRunner> {
  return factory(await req.packed(), {
    expertBudgetBytes: req.expertBudgetBytes,
    store: req.store,
    modelId: req.modelId,
    maxLength: req.maxLength,
    onProgress: req.onProgress,
  });
}

/** The default factory: CPU reference always; WebGPU when a GPU runner is registered. */
export const defaultRunnerFactory: RunnerFactory = async (backend, req) => {
  if (backend === 'cpu') return { runner: await cpuRunner(req), note: null };
  const gpu = gpuRunnerFactory;
  if (backend === 'webgpu') {
    if (!gpu) throw new BackendUnavailableError('webgpu', 'this build has no WebGPU runner registered (registerGpuRunner).');
    return { runner: await gpuRunner(gpu, req), note: null };
  }
  // auto
  if (!gpu) return { runner: await cpuRunner(req), note: 'WebGPU runner not available in this build: running on the CPU reference (slow)' };
  if (!webgpuPresent()) return { runner: await cpuRunner(req), note: 'WebGPU is not available here (navigator.gpu missing): running on the CPU reference (slow)' };
  try {
    return { runner: await gpuRunner(gpu, req), note: null };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { runner: await cpuRunner(req), note: `WebGPU runner failed (${why}): running on the CPU reference (slow)` };
  }
};
