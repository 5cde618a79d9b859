import { describe, expect, it } from 'vitest';
import { createGpuContext } from '../gpu/device.ts';
import { StagingRing } from './staging.ts';

describe('StagingRing', () => {
  it('interruptible writes stop between 1 MiB pieces and resume; take() hands the copies to a caller submit', async () => {
    const ctx = await createGpuContext();
    try {
      const n = (3 << 20) + 64;
      const src = Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 12)) & 0xff);
      const dst = ctx.createBuffer(n + 256);
      const ring = new StagingRing(ctx.device, 2, 4 << 20);
      let pieces = 0;
      const first = await ring.write(dst, 256, src, () => ++pieces > 1); // stops after the first piece
      expect(first).toBe(1 << 20);
      ring.flush();
      const rest = await ring.write(dst, 256 + first, src.subarray(first));
      expect(rest).toBe(n - first);
      const cb = ring.take();
      expect(cb).not.toBeNull();
      ctx.queue.submit([cb!]);
      ring.submitted();
      const back = new Uint8Array(await ctx.read(dst, 256, n));
      expect(back).toEqual(src);
      await ring.drain();
      ring.destroy();
    } finally {
      ctx.destroy();
    }
  });

  it('eager: a blob of several chunks streams through a ring of two, each copy but the last submitted as filled', async () => {
    const ctx = await createGpuContext();
    try {
      const n = (5 << 16) + 12; // 6 chunks of 64 KiB through 2 buffers: the ring wraps 2.5 times
      const src = Uint8Array.from({ length: n }, (_, i) => (i * 13 + (i >> 10)) & 0xff);
      const dst = ctx.createBuffer(n + 64);
      const ring = new StagingRing(ctx.device, 2, 1 << 16, true);
      expect(await ring.write(dst, 64, src)).toBe(n);
      const last = ring.take(); // the last chunk waits for the caller's submit; the others are submitted
      expect(last).not.toBeNull();
      ctx.queue.submit([last!]);
      ring.submitted();
      expect(new Uint8Array(await ctx.read(dst, 64, n))).toEqual(src);
      await ring.drain();
      ring.destroy();
    } finally {
      ctx.destroy();
    }
  });
});
