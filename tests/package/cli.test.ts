// The convert / inspect contract through the real CLI, and logits / generate on a package.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webmoe } from '../helpers/cli.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { expected, fixtureDir, relError } from '../helpers/fixtures.ts';
import { removeScratch, scratchDir } from './tiny-checkpoint.ts';



describe('webmoe convert / inspect', () => {
  afterAll(removeScratch);

  it('convert: JSON summary on stdout, peak RSS on stderr, MXFP4 kept by default, no temp dir left', async () => {
    const parent = scratchDir('cli');
    const out = join(parent, 'pkg');
    const r = await webmoe(['convert', fixtureDir('gpt_oss_mxfp4'), out]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ package: out, modelType: 'gpt_oss', quant: { experts: 'mxfp4', dense: 'q8' }, layers: 3, experts: 24 });
    expect(s.totalBytes).toBeGreaterThanOrEqual(s.denseBytes + s.expertBytes); // + alignment padding in shards
    expect(r.stderr).toMatch(/peak RSS \d/);
    expect(readdirSync(parent)).toEqual(['pkg']);
    expect(existsSync(join(out, 'experts', 'L2-E7.bin'))).toBe(true);

    const i = await webmoe(['inspect', out, '--json']);
    expect(i.code, i.stderr).toBe(0);
    const info = JSON.parse(i.stdout);
    expect(info).toMatchObject({ modelType: 'gpt_oss', layers: 3, experts: 24, expertsPerLayer: 8, topK: 2, layerKinds: ['sliding', 'full', 'sliding'], scoring: 'softmax', quant: { experts: 'mxfp4', dense: 'q8' } });
    expect(info.expertBytes).toBe(s.expertBytes);
    expect(info.denseBytes).toBe(s.denseBytes);

    const t = await webmoe(['inspect', out]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/one token at top-2: dense .* \+ experts .* \(2 × 3 × /);
    expect(t.stdout).toMatch(/^0\s+sliding/m);
  });

  it('refuses a non-empty OUT_DIR without --force, replaces it with --force', async () => {
    const out = scratchDir('cli-out');
    writeFileSync(join(out, 'keep.txt'), 'x');
    const r = await webmoe(['convert', fixtureDir('minimax_m2'), out, '--quant', 'q8']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not empty; pass --force/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    const f = await webmoe(['convert', fixtureDir('minimax_m2'), out, '--quant', 'q8', '--dense-quant', 'f16', '--force']);
    expect(f.code, f.stderr).toBe(0);
    expect(existsSync(join(out, 'keep.txt'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).quantization).toEqual({ experts: 'q8', dense: 'f16' });
  });

  it('a failing conversion leaves neither OUT_DIR nor a temp dir behind', async () => {
    const hf = scratchDir('cli-bad');
    copyFileSync(join(fixtureDir('qwen3_moe'), 'config.json'), join(hf, 'config.json'));
    const st = readFileSync(join(fixtureDir('qwen3_moe'), 'model.safetensors'));
    // keep the header valid but drop an expert tensor's name from it: the conversion fails midway
    const len = Number(st.readBigUInt64LE(0));
    const header = JSON.parse(st.subarray(8, 8 + len).toString('utf8'));
    delete header['model.layers.2.mlp.experts.5.up_proj.weight'];
    const h = Buffer.from(JSON.stringify(header));
    const lenBuf = Buffer.alloc(8);
    lenBuf.writeBigUInt64LE(BigInt(h.length));
    writeFileSync(join(hf, 'model.safetensors'), Buffer.concat([lenBuf, h, st.subarray(8 + len)]));
    const parent = scratchDir('cli');
    mkdirSync(join(parent, 'other'));
    const r = await webmoe(['convert', hf, join(parent, 'pkg')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/experts\.5\.up_proj/);
    expect(readdirSync(parent)).toEqual(['other']);
  });

  it('rejects bad flags', async () => {
    const r = await webmoe(['convert', fixtureDir('minimax_m2'), join(tmpdir(), 'never'), '--quant', 'q3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--quant must be one of/);
    const n = await webmoe(['inspect', fixtureDir('minimax_m2')]);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/manifest\.json/);
  });

  it('logits and generate run on an f32 package and equal HF', async () => {
    const out = join(scratchDir('cli'), 'pkg');
    expect((await webmoe(['convert', fixtureDir('minimax'), out, '--quant', 'f32', '--dense-quant', 'f32'])).code).toBe(0);
    const exp = expected('minimax');
    const l = await webmoe(['logits', '--model', out, '--tokens', exp.tokens.join(',')]);
    expect(l.code, l.stderr).toBe(0);
    expect(relError(JSON.parse(l.stdout).logits, exp.logits)).toBeLessThan(1e-4);
    const g = await webmoe(['generate', '--model', out, '--tokens', exp.greedy_prompt.join(','), '--max-tokens', String(exp.greedy.length), '--temperature', '0', '--ignore-eos', '--json']);
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout).tokens).toEqual(exp.greedy);
  });
});
