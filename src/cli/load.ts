// Opening a model directory for the CLI: an HF checkpoint (config.json + *.safetensors) or a
// WebMoE package (manifest.json), on the backend the user picked.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice } from '../api/backends.ts';
import { HfCheckpoint } from '../format/hf-checkpoint.ts';
import type { WeightSource } from '../format/weights.ts';
import type { ModelRunner } from '../model/runner.ts';
import { CpuRunner } from '../reference/runner.ts';
import { nodeDir } from '../store/node-dir.ts';
import { UsageError } from './args.ts';

export type BackendName = 'cpu' | 'webgpu' | 'browser';

export function backendOf(s: string | undefined): BackendName {
  const b = s ?? 'cpu';
  if (b !== 'cpu' && b !== 'webgpu' && b !== 'browser') throw new UsageError(`--backend must be cpu, webgpu or browser, got "${b}"`);
  return b;
}

/** --backend of the commands that run the engine API (chat, serve). */
export function engineBackendOf(s: string | undefined): BackendChoice {
  const b = s ?? 'auto';
  if (b !== 'auto' && b !== 'cpu' && b !== 'webgpu') throw new UsageError(`--backend must be auto, cpu or webgpu, got "${b}"`);
  return b;
}

export function checkModelDir(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--model ${dir}: no such directory`);
  if (!existsSync(join(dir, 'config.json')) && !existsSync(join(dir, 'manifest.json')))
    throw new UsageError(`--model ${dir}: neither config.json (HF checkpoint) nor manifest.json (WebMoE package) is there`);
}

export function isPackageDir(dir: string): boolean {
  return existsSync(join(dir, 'manifest.json'));
}

/** Canonical weights of an HF checkpoint or a package (dequantized). */
export async function openWeights(dir: string): Promise<WeightSource> {
  checkModelDir(dir);
  if (isPackageDir(dir)) {
    const { openPackageWeights } = await import('./load-package.ts');
    return openPackageWeights(dir);
  }
  return HfCheckpoint.open(nodeDir(dir));
}

export interface RunnerOptions {
  backend: BackendName;
  maxLen?: number;
  /** expert cache budget: bytes, or a fraction of all expert bytes when < 1... see parseBudget */
  expertBudget?: string;
}

export async function openRunner(dir: string, opts: RunnerOptions): Promise<ModelRunner> {
  if (opts.backend === 'cpu') return CpuRunner.load(await openWeights(dir), opts.maxLen);
  const { openGpuRunner } = await import('./load-gpu.ts');
  return openGpuRunner(dir, opts);
}
