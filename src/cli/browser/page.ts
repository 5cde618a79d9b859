// The page side of `--backend browser`: runs the WebGPU engine in real Chromium. A WebMoE package is
// downloaded into this page's IndexedDB first (the product path: verified, then read per expert from
// IndexedDB); an HF checkpoint is read over HTTP ranges and packed in memory at f32.

import { HfCheckpoint } from '../../format/hf-checkpoint.ts';
import { packInMemory } from '../../format/pack.ts';
import { openPackage } from '../../format/package.ts';
import { createGpuContext, type GpuContext } from '../../gpu/device.ts';
import { GpuRunner } from '../../model/gpu-runner.ts';
import { IdbShardStore, downloadModel, storeDir } from '../../store/index.ts';
import { httpDir } from './http-dir.ts';

export interface PageInit {
  modelUrl: string;
  isPackage: boolean;
  expertBudget?: string;
  maxLen?: number;
  /** IndexedDB model id (default 'webmoe-cli') */
  modelId?: string;
  /** an HF checkpoint's files and sizes, when the server has no __list.json (a plain static server) */
  files?: { name: string; size: number }[];
}

let runner: GpuRunner | null = null;
/** one device for the page: pipelines compile once, whatever the number of (re)loads */
let ctx: GpuContext | null = null;

function b64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const api = {
  async init(o: PageInit) {
    runner?.dispose();
    runner = null;
    let pm;
    if (o.isPackage) {
      const store = new IdbShardStore();
      const { modelId } = await downloadModel(store, new URL(o.modelUrl, location.href).href, { modelId: o.modelId ?? 'webmoe-cli', persist: false });
      pm = await openPackage(storeDir(store, modelId));
    } else {
      pm = await packInMemory(await HfCheckpoint.open(httpDir(o.modelUrl, o.files)), { quant: 'f32', denseQuant: 'f32' });
    }
    ctx ??= await createGpuContext();
    runner = await GpuRunner.create(pm, { ctx, expertBudget: o.expertBudget, maxLen: o.maxLen });
    const info = runner.ctx.adapterInfo;
    return { spec: pm.spec, adapter: `${info.vendor} ${info.architecture} ${info.description}`.trim() };
  },
  /** logits rows as base64 of little-endian f32 */
  async forward(tokens: number[], allLogits: boolean) {
    const rows = await runner!.forward(tokens, allLogits);
    return rows.map((r) => b64(new Uint8Array(r.buffer, r.byteOffset, r.byteLength)));
  },
  reset() {
    runner!.reset();
  },
  stats() {
    return runner!.expertCacheStats();
  },
  dispose() {
    runner?.dispose();
    runner = null;
  },
};

(globalThis as unknown as { __webmoe: typeof api }).__webmoe = api;
document.getElementById('status')!.textContent = 'ready';
