// The workgroup-per-(token, head) attention (attention-fast.wgsl) against the reference, with
// contexts longer than one block of keys (WG = 128) and rings that wrap.

import { describe, it } from 'vitest';
import { attentionChunks } from '../testing/attention-chunks.ts';

const CASES = [
  { name: 'full, GQA 4:2, sinks, 300 keys', Hq: 4, Hkv: 2, hd: 16, window: null, sinks: true, chunks: [130, 1, 150, 1, 1, 17] },
  { name: 'sliding 140 (ring wraps), MHA', Hq: 2, Hkv: 2, hd: 64, window: 140, sinks: false, chunks: [3, 150, 1, 1, 200, 1] },
  { name: 'full, head_dim 256 (two dims per thread), decode', Hq: 2, Hkv: 1, hd: 256, window: null, sinks: true, chunks: [5, 1, 1] },
];

describe('attention fast variant + kvWrite', () => {
  for (const c of CASES) {
    it(`${c.name}: chunk by chunk equal to the reference`, () => attentionChunks(c, 'fast', c.name.length * 31 + c.hd));
  }
});
