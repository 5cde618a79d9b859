// The tiled prefill attention (attention-tiled.wgsl) against the reference: tiles of tokens x heads
// of one kv head, rows split over 1, 2 or more lanes (hd 16, 32, 64, 128), dead rows (a group of 3
// heads), rings that wrap and chunks after earlier ones (keys from the cache and from the chunk).

import { describe, it } from 'vitest';
import { attentionChunks } from '../testing/attention-chunks.ts';
import { tiledShape } from './attention.ts';

const CASES = [
  { name: 'full, GQA 8:1, hd 64, sinks (several tiles)', Hq: 8, Hkv: 1, hd: 64, window: null, sinks: true, chunks: [40, 1, 37] },
  { name: 'sliding 20 (ring wraps), GQA 4:2, hd 128', Hq: 4, Hkv: 2, hd: 128, window: 20, sinks: false, chunks: [30, 25, 9] },
  { name: 'full, GQA 3:1 (2 dead rows a tile), hd 32', Hq: 6, Hkv: 2, hd: 32, window: null, sinks: true, chunks: [50, 45] },
  { name: 'full, MHA, hd 16 (one lane a row)', Hq: 2, Hkv: 2, hd: 16, window: null, sinks: false, chunks: [150, 3] },
];

describe('attention tiled variant + kvWrite', () => {
  it('tiledShape: threads a row, heads and tokens a tile, and where it does not apply', () => {
    const eq = (a: unknown, b: unknown) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${JSON.stringify(a)} != ${JSON.stringify(b)}`);
    };
    eq(tiledShape(64, 8, 32768, 32), { S: 2, DPT4: 8, HPW: 8, TQ: 8 });
    eq(tiledShape(128, 6, 32768, 32), { S: 4, DPT4: 8, HPW: 6, TQ: 5 });
    eq(tiledShape(128, 6, 32768, 2), { S: 2, DPT4: 16, HPW: 6, TQ: 10 }); // subgroups of 2 lanes
    eq(tiledShape(128, 128, 32768, 32), { S: 4, DPT4: 8, HPW: 32, TQ: 1 });
    eq(tiledShape(80, 5, 32768, 32), { S: 2, DPT4: 10, HPW: 5, TQ: 12 });
    eq(tiledShape(64, 8, 32768, 1), { S: 1, DPT4: 16, HPW: 8, TQ: 16 });
    eq(tiledShape(256, 8, 16384, 32), null); // 32 KiB of workgroup memory
    eq(tiledShape(68, 1, 32768, 32), null); // 17 vec4s: no power of two S
  });

  for (const c of CASES) {
    it(`${c.name}: chunk by chunk equal to the reference`, () => attentionChunks(c, 'tiled', c.name.length * 17 + c.hd));
  }
});
