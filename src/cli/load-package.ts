// Opening a WebMoE package directory from the CLI: the PackedModel (for the GPU engine) and its
// dequantized WeightSource view (for the CPU reference). sha256 of everything read is checked.

import { openPackage, type WebMoePackage } from '../format/package.ts';
import type { WeightSource } from '../format/weights.ts';
import { nodeDir } from '../store/node-dir.ts';

export function openPackageDir(dir: string, opts?: { verify?: boolean }): Promise<WebMoePackage> {
  return openPackage(nodeDir(dir), opts);
}

export async function openPackageWeights(dir: string): Promise<WeightSource> {
  return (await openPackageDir(dir)).weights();
}
