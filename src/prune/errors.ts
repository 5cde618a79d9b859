// Errors of expert pruning: each says what to change.

import { WebMoeError } from '../format/errors.ts';

/** The pruning request cannot be met: bad ratio, too few survivors, no calibration tokens. */
export class PruneError extends WebMoeError {
  constructor(message: string) {
    super('prune_invalid', message);
  }
}
