// Expert pruning (REAP and the frequency baseline): the public surface of src/prune/.
// CALIBRATION_TEXT lives in ./calibration.ts (a `?raw` text import) so that importing this
// module needs no loader hooks.

export { PruneError } from './errors.ts';
export { calibrationWindows, collectExpertStats, saliencyOf, PRUNE_METHODS, type CalibrationProgress, type ExpertStats, type PruneMethod } from './saliency.ts';
export { chooseSurvivors, prunedCount, type Survivors } from './select.ts';
export { prunedSpec, prunedView } from './view.ts';
export {
  DEFAULT_CALIBRATION_WINDOW,
  calibrationTokens,
  planPrune,
  prunePackage,
  writePruned,
  type Calibration,
  type PrunePlan,
  type PruneOptions,
  type PruneProgress,
} from './prune.ts';
export { planSummary, pruneEstimate, ratioToFit, type PruneEstimate } from './summary.ts';
export { bitsPerByte, streamWindows, type BpbResult } from './bpb.ts';
export { shardStoreSink } from './store-sink.ts';
