// The engine surface the UI uses: the worker client (src/api/client.ts) and the in-page engine
// (src/api/engine.ts) both have it.

import type { WorkerEngine } from '../../api/client.ts';

export type ChatEngine = Pick<
  WorkerEngine,
  'reload' | 'chat' | 'interruptGenerate' | 'resetChat' | 'unload' | 'getStats' | 'runtimeStatsText' | 'hasModelInCache' | 'deleteModelFromCache'
>;
