// Backend selection: which ModelRunner runs a loaded model. One seam, `RunnerFactory`, so the
// engine never names a backend class:
//
//   'cpu'     the CPU reference (CpuRunner) over the package's dequantized weights
//   'webgpu'  the GPU runner (src/model/gpu-runner.ts, loaded on first use), or whatever
//             registerGpuRunner() put in its place
//   'auto'    webgpu where navigator.gpu exists (browsers, workers), else cpu; a GPU runner that
//             fails to start falls back to cpu — and the engine says which, and why, in progress
//             reports and stats (backendNote). Node has no navigator.gpu: 'auto' is the CPU there,
//             'webgpu' asks for Dawn through the `webgpu` package explicitly.

import type { PackedModel } from '../format/quant-layout.ts';
import type { WeightSource } from '../format/weights.ts';
import type { ModelRunner } from '../model/runner.ts';
import { CpuRunner } from '../reference/runner.ts';
import { ReferenceModel } from '../reference/forward.ts';
import type { ShardStore } from '../store/types.ts';
import { BackendUnavailableError } from './load-errors.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** Options the GPU runner takes (the lead's createGpuRunner(packed, opts)). */
export interface GpuFactoryOptions {
  expertBudgetBytes?: number;
  /** where expert blobs can be re-read from (the model's store), when the model lives in one */
  store?: ShardStore;
  modelId?: string;
  maxLength?: number;
  onProgress?: (fraction: number, text: string) => void;
}

export type GpuRunnerFactory = (packed: PackedModel, opts: GpuFactoryOptions) => Promise<ModelRunner> | ModelRunner;

/** The built-in WebGPU runner: dense weights resident, experts through the GPU expert cache. */
export const builtinGpuRunner: GpuRunnerFactory = async (packed, opts) => {
  const { createGpuRunner } = await import('../model/gpu-runner.ts');
  const onProgress = opts.onProgress;
  return createGpuRunner(packed, {
    expertBudget: opts.expertBudgetBytes,
    maxLen: opts.maxLength,
    ...(onProgress ? { onProgress: (_phase: string, done: number, total: number) => onProgress(total > 0 ? done / total : 1, `uploading weights to the GPU (${done}/${total})`) } : {}),
  });
};

let gpuRunnerFactory: GpuRunnerFactory | null = builtinGpuRunner;

/** Replace the WebGPU runner for every engine created afterwards in this realm (null: none). */
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
    if (!gpu) throw new BackendUnavailableError('webgpu', 'no WebGPU runner is registered (registerGpuRunner(null) removed it).');
    return { runner: await gpuRunner(gpu, req), note: null };
  }
  // auto
  if (!gpu) return { runner: await cpuRunner(req), note: 'no WebGPU runner is registered: running on the CPU reference (slow)' };
  if (!webgpuPresent()) return { runner: await cpuRunner(req), note: 'WebGPU is not available here (navigator.gpu missing): running on the CPU reference (slow)' };
  try {
    return { runner: await gpuRunner(gpu, req), note: null };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { runner: await cpuRunner(req), note: `WebGPU runner failed (${why}): running on the CPU reference (slow)` };
  }
};
