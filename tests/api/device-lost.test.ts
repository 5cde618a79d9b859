// A lost GPU device is a typed error, and the engine recovers: the next request loads the model
// again on a new device and gives the same greedy reply.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNodeEngine } from '../../src/api/node.ts';
import { GpuDeviceLostError } from '../../src/gpu/errors.ts';
import { GpuRunner } from '../../src/model/gpu-runner.ts';
import { openPackage } from '../../src/format/package.ts';
import { nodeDir } from '../../src/store/node-dir.ts';

const MODEL = join(import.meta.dirname, '..', '..', 'public', 'models', 'stories-moe-10m');
const request = { messages: [{ role: 'user' as const, content: 'Once upon a time' }], max_tokens: 6, temperature: 0 };

describe('lost GPU device', () => {
  it('a forward on a lost device throws GpuDeviceLostError that says to reload', async () => {
    const r = await GpuRunner.create(await openPackage(nodeDir(MODEL)), { maxLen: 64 });
    await r.forward([1, 300]);
    r.ctx.device.destroy();
    await r.ctx.lost;
    expect(r.deviceLost()).toBe(true);
    const err = await r.forward([301]).catch((e) => e);
    expect(err).toBeInstanceOf(GpuDeviceLostError);
    expect(err.message).toMatch(/Reload the model/);
    r.dispose();
  });

  it('the engine reloads the model on a new device and the reply is the same', async () => {
    const engine = createNodeEngine({ backend: 'webgpu' });
    await engine.reload(MODEL);
    const first = await engine.chat.completions.create(request);
    const runner = (engine as unknown as { loaded: { chat: { runner: GpuRunner } } }).loaded.chat.runner;
    runner.ctx.device.destroy();
    await runner.ctx.lost;
    const again = await engine.chat.completions.create(request);
    expect(again.choices[0].message.content).toBe(first.choices[0].message.content);
    expect((engine as unknown as { loaded: { chat: { runner: GpuRunner } } }).loaded.chat.runner).not.toBe(runner);
    await engine.unload();
  });
});
