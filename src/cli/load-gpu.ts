// GPU backends for the CLI: `webgpu` runs the engine in this Node process through the `webgpu`
// package (Dawn: SwiftShader here, the real GPU on the GPU machine); `browser` runs it in a real
// headless Chromium page (src/cli/browser/).

import { HfCheckpoint } from '../format/hf-checkpoint.ts';
import { packInMemory } from '../format/pack.ts';
import type { PackedModel } from '../format/quant-layout.ts';
import type { ModelRunner } from '../model/runner.ts';
import { nodeDir } from '../store/node-dir.ts';
import { isPackageDir, type RunnerOptions } from './load.ts';
import { openPackageDir } from './load-package.ts';

/** A package as is, or an HF checkpoint packed in memory at f32 (no quantization error). */
export async function openPacked(dir: string): Promise<PackedModel> {
  if (isPackageDir(dir)) return openPackageDir(dir);
  return packInMemory(await HfCheckpoint.open(nodeDir(dir)), { quant: 'f32', denseQuant: 'f32' });
}

export async function openGpuRunner(dir: string, opts: RunnerOptions): Promise<ModelRunner> {
  if (opts.backend === 'browser') {
    const { openBrowserRunner } = await import('./browser/runner.ts');
    return openBrowserRunner(dir, opts);
  }
  const { createGpuRunner } = await import('../model/gpu-runner.ts');
  return createGpuRunner(await openPacked(dir), { expertBudget: opts.expertBudget, maxLen: opts.maxLen });
}
