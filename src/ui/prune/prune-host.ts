// The worker side of "prune to fit" (workers/prune.worker.ts exposes a PruneHost over Comlink):
// reads a model from the IndexedDB store, calibrates on the built-in text with the CPU reference,
// and writes the pruned package into the same store under a new id. Calibration is seconds to
// minutes of synchronous CPU work, so it runs in a worker of its own: the page stays responsive
// and the engine worker can keep chatting while it runs. The page ends a run by terminating the
// worker, then deletes what was written (cleanupPartial).
//
//   prune(request, onProgress)   {ok, value: PruneResult} | {ok: false, error}   (src/api/wire.ts)

import * as Comlink from 'comlink';
import { envelope, type Envelope } from '../../api/wire.ts';
import { openPackage } from '../../format/package.ts';
import { CALIBRATION_TEXT } from '../../prune/calibration.ts';
import { PruneError } from '../../prune/errors.ts';
import { prunePackage, type PruneProgress } from '../../prune/prune.ts';
import type { PruneMethod } from '../../prune/saliency.ts';
import { shardStoreSink } from '../../prune/store-sink.ts';
import { pruneEstimate } from '../../prune/summary.ts';
import { storeDir } from '../../store/dir.ts';
import { IdbShardStore } from '../../store/idb.ts';
import { withModelLock } from '../../store/lock.ts';
import { assertComplete } from '../../store/registry.ts';
import { checkModelId, type ShardStore } from '../../store/types.ts';

export interface PruneRequest {
  /** a model complete in the store */
  sourceId: string;
  /** the id the pruned model gets; anything already stored under it is replaced */
  targetId: string;
  ratio: number;
  method: PruneMethod;
}

export interface PruneResult {
  modelId: string;
  method: PruneMethod;
  ratio: number;
  expertsPerLayer: { before: number; after: number };
  expertBytes: { before: number; after: number };
  totalBytes: { before: number; after: number };
  calibrationTokens: number;
  seconds: number;
}

type Callback<T> = ((value: T) => unknown) & Partial<Record<typeof Comlink.releaseProxy, () => void>>;

export class PruneHost {
  constructor(private readonly store: ShardStore = new IdbShardStore()) {}

  async prune(req: PruneRequest, onProgress?: Callback<PruneProgress>): Promise<Envelope<PruneResult>> {
    try {
      return await envelope(() => this.run(req, onProgress));
    } finally {
      try {
        onProgress?.[Comlink.releaseProxy]?.();
      } catch {
        // a plain function (same-realm use)
      }
    }
  }

  private async run(req: PruneRequest, onProgress?: (p: PruneProgress) => void): Promise<PruneResult> {
    const { sourceId, targetId } = req;
    checkModelId(targetId);
    if (targetId === sourceId) throw new PruneError(`the pruned model needs an id other than its source's (${sourceId})`);
    const t0 = performance.now();
    await assertComplete(this.store, sourceId);
    const pkg = await openPackage(storeDir(this.store, sourceId));
    // the target's lock: no other tab deletes or downloads it while it is written
    return withModelLock(targetId, async () => {
      await this.store.deleteModel(targetId); // leftovers of an earlier, interrupted run
      try {
        const { plan, manifest } = await prunePackage(pkg, shardStoreSink(this.store, targetId), {
          ratio: req.ratio,
          method: req.method,
          calibration: { text: CALIBRATION_TEXT },
          onProgress: (p) => void onProgress?.(p),
        });
        await this.store.setModelRecord({ modelId: targetId, updatedAt: Date.now() });
        await assertComplete(this.store, targetId);
        const before = pruneEstimate(pkg.manifest, req.ratio);
        return {
          modelId: targetId,
          method: plan.method,
          ratio: plan.ratio,
          expertsPerLayer: { before: plan.expertsBefore, after: plan.expertsAfter },
          expertBytes: { before: before.expertBytes.before, after: manifest.experts.reduce((a, x) => a + x.bytes, 0) },
          totalBytes: { before: before.totalBytes.before, after: manifest.files.reduce((a, f) => a + f.bytes, 0) },
          calibrationTokens: plan.calibration.tokens,
          seconds: (performance.now() - t0) / 1000,
        };
      } catch (e) {
        await this.store.deleteModel(targetId).catch(() => {});
        throw e;
      }
    });
  }
}
