// The contract between a forward-pass backend (CPU reference, WebGPU) and everything above it
// (generation loop, engine API, CLI). Logits arrive as Float32Array; no GPU types cross it.

import type { ModelSpec } from '../format/spec.ts';

export interface ExpertCacheStats {
  hits: number;
  misses: number;
  bytesStreamed: number;
  stallMs: number;
  budgetBytes: number;
  /** store reads started early for the next layer's predicted experts, and how many were then used */
  prefetched?: number;
  prefetchUsed?: number;
  /** bytes uploaded speculatively (predicted experts, while a layer's routing was read back), and how many of them a miss then used */
  speculativeBytes?: number;
  speculativeUsedBytes?: number;
}

export interface ModelRunner {
  readonly spec: ModelSpec;
  /** 'cpu' | 'webgpu' | ... for stats and messages */
  readonly backend: string;
  /** Forget the sequence (KV caches, linear states). */
  reset(): void;
  /** Tokens processed in the current sequence. */
  readonly length: number;
  /** Most tokens a sequence may hold (KV cache capacity); absent: the model's max_position_embeddings. */
  readonly maxLength?: number;
  /**
   * Append tokens to the sequence. Returns logits (V) for every new token when `allLogits`,
   * else only for the last one.
   */
  forward(tokens: number[], allLogits?: boolean): Promise<Float32Array[]>;
  expertCacheStats?(): ExpertCacheStats;
  /** true once the backend's device is gone (GPU reset, destroy): reload to continue */
  deviceLost?(): boolean;
  dispose(): void;
}

/** What the UI's expert heatmap shows: per layer, resident experts and the last token's routing. */
export interface ExpertActivity {
  layers: number;
  experts: number;
  resident: number[][];
  lastToken: { layer: number; expert: number; hit: boolean }[];
}

/** Optional extras a GPU backend offers. */
export interface GpuRunnerExtras {
  gpuMemoryBytes(): number;
  expertActivity(): ExpertActivity;
}
