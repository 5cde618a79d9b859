import { describe, expect, it } from 'vitest';
import { slotRuns } from './gpu-experts.ts';

describe('slotRuns (streaming: tokens whose experts fit the slots together)', () => {
  it('grows a run while the union fits, starts a new one when it would not', () => {
    // K = 2; tokens route to {0,1}, {1,2}, {3,4}, {3,0}
    const ids = Uint32Array.from([0, 1, 1, 2, 3, 4, 3, 0]);
    expect(slotRuns(ids, 4, 2, 3)).toEqual([
      { t0: 0, t1: 2, experts: [0, 1, 2] },
      { t0: 2, t1: 4, experts: [3, 4, 0] },
    ]);
    expect(slotRuns(ids, 4, 2, 8)).toEqual([{ t0: 0, t1: 4, experts: [0, 1, 2, 3, 4] }]);
  });

  it('with K slots every token is its own run', () => {
    const ids = Uint32Array.from([5, 6, 7, 8, 5, 6]);
    expect(slotRuns(ids, 3, 2, 2).map((r) => [r.t0, r.t1])).toEqual([[0, 1], [1, 2], [2, 3]]);
  });
});
