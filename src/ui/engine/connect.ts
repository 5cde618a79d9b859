// Start the engine worker (the only owner of the GPU) and talk to it through the Comlink client.
// Also probes WebGPU on the page, so the UI can say up front why the CPU backend will be used.

import { createWorkerEngine, type WorkerEngine } from '../../api/client.ts';

export interface EngineConnection {
  engine: WorkerEngine;
  worker: Worker;
  /** rejects when the worker script fails to start (e.g. offline with nothing cached) */
  failed: Promise<never>;
  close(): void;
}

export function connectEngine(): EngineConnection {
  const worker = new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'webmoe-engine' });
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (e) => reject(new Error(`The engine worker failed to start: ${e.message || 'its script could not be loaded'}. Reload the page.`)));
  });
  failed.catch(() => {});
  const engine = createWorkerEngine(worker);
  return {
    engine,
    worker,
    failed,
    close() {
      engine.dispose();
      worker.terminate();
    },
  };
}

export interface GpuProbe {
  available: boolean;
  /** adapter description, or why WebGPU is unavailable */
  detail: string;
}

export async function probeWebGpu(): Promise<GpuProbe> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { available: false, detail: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, detail: 'no WebGPU adapter (WebGPU is disabled, or the GPU is blocklisted)' };
    const info = adapter.info;
    const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ').trim();
    return { available: true, detail: name || 'WebGPU adapter' };
  } catch (e) {
    return { available: false, detail: `requestAdapter failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}
