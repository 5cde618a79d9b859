// The engine's Web Worker: the only owner of the GPU. The page talks to it through
// createWorkerEngine(worker) (src/api/client.ts).

import { exposeEngine } from '../src/api/host.ts';

exposeEngine();
