// The "prune to fit" worker: CPU calibration and the write of a pruned package into IndexedDB,
// off the page and off the engine worker. The page talks to it through src/ui/prune/usePrune.ts.

import * as Comlink from 'comlink';
import { PruneHost } from '../src/ui/prune/prune-host.ts';

Comlink.expose(new PruneHost());
