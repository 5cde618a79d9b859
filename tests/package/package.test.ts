// Packages converted from tiny random checkpoints of every family: f32 packages reproduce the HF
// checkpoint's logits, quantized packages hold exactly the codec's bytes (disk = in-memory packer),
// MXFP4 experts pass through untouched, tied embeddings are stored once, shards are 256-aligned.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeSink } from '../../src/cli/convert.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { packInMemory, packedWeights, unpackExpert } from '../../src/format/pack.ts';
import { openPackage, type WebMoePackage } from '../../src/format/package.ts';
import { packageInfo } from '../../src/format/package-info.ts';
import { writePackage, type WriteOptions } from '../../src/format/package-write.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../src/format/quant.ts';
import type { QuantKind } from '../../src/format/quant-layout.ts';
import type { WeightSource } from '../../src/format/weights.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { relError } from '../helpers/fixtures.ts';
import { removeScratch, scratchDir, tinyCheckpoint, writeCheckpoint, type TinyFamily } from './tiny-checkpoint.ts';

const TOKENS = [1, 17, 42, 5, 88, 3, 60, 9, 31, 70];
const FAMILIES: TinyFamily[] = ['minimax_m2', 'gpt_oss', 'gpt_oss_mxfp4', 'minimax', 'qwen3_moe_tied'];

afterAll(removeScratch);

async function logitsOf(src: WeightSource): Promise<Float32Array[]> {
  const m = await ReferenceModel.load(src);
  return m.forward(m.newState(TOKENS.length), TOKENS);
}

export async function convert(hfDir: string, opts: WriteOptions = {}): Promise<{ dir: string; pkg: WebMoePackage; hf: HfCheckpoint }> {
  const dir = scratchDir('pkg');
  const hf = await HfCheckpoint.open(nodeDir(hfDir));
  await writePackage(hf, nodeSink(dir), { extras: nodeDir(hfDir), ...opts });
  return { dir, pkg: await openPackage(nodeDir(dir)), hf };
}

describe('package from tiny random checkpoints', () => {
  for (const family of FAMILIES) {
    describe(family, () => {
      const hfDir = writeCheckpoint(tinyCheckpoint(family, FAMILIES.indexOf(family) + 3));

      it('f32 package gives the HF checkpoint logits (1e-6 relative)', async () => {
        const { pkg, hf } = await convert(hfDir, { quant: 'f32', denseQuant: 'f32' });
        expect(relError(await logitsOf(pkg.weights()), await logitsOf(hf))).toBeLessThan(1e-6);
      });

      for (const [quant, denseQuant] of [['q8', 'q8'], ['q4', 'q8'], ['q4', 'f16']] as [QuantKind, QuantKind][]) {
        it(`${quant}/${denseQuant}: disk package = in-memory packer, byte for byte and in logits`, async () => {
          const { pkg, hf } = await convert(hfDir, { quant, denseQuant });
          const mem = await packInMemory(hf, { quant, denseQuant });
          expect(pkg.denseNames().sort()).toEqual(mem.denseNames().sort());
          for (const n of pkg.denseNames()) expect(Buffer.from((await pkg.dense(n)).data).equals(Buffer.from((await mem.dense(n)).data)), n).toBe(true);
          for (let L = 0; L < pkg.spec.num_hidden_layers; L++)
            for (let e = 0; e < pkg.spec.moe.num_experts; e++)
              expect(Buffer.from(await pkg.expertBlob(L, e)).equals(Buffer.from(await mem.expertBlob(L, e)))).toBe(true);
          expect(relError(await logitsOf(pkg.weights()), await logitsOf(packedWeights(mem)))).toBeLessThan(1e-6);
        });
      }

      it('q4 experts hold exactly the q4 codec of the checkpoint weights', async () => {
        const { pkg, hf } = await convert(hfDir, { quant: 'q4', denseQuant: 'q8' });
        const L = 1;
        const e = 2;
        const got = unpackExpert(pkg.spec, pkg.expertLayout, await pkg.expertBlob(L, e));
        const want = await hf.expert(L, e);
        for (const f of ['gate', 'up', 'down'] as const) {
          const [rows, cols] = pkg.expertLayout[f].shape;
          const codec = dequantizeMatrix('q4', quantizeMatrix('q4', want[f], rows, cols), rows, cols);
          expect(Array.from(got[f])).toEqual(Array.from(codec));
        }
        for (const f of ['gate_bias', 'up_bias', 'down_bias'] as const) if (want[f]) expect(Array.from(got[f]!)).toEqual(Array.from(want[f]!));
        const q = await hf.layer(L);
        const qProj = dequantizeMatrix('q8', (await pkg.dense(`layers.${L}.q_proj`)).data, q.q_proj.length / pkg.spec.hidden_size, pkg.spec.hidden_size);
        expect(relError([qProj], [q.q_proj])).toBeLessThan(0.01);
        expect((await pkg.dense(`layers.${L}.input_norm`)).quant).toBe('f32');
        expect((await pkg.dense(`layers.${L}.router`)).quant).toBe('f32');
      });

      it('quantized logits stay near HF (q8 experts+dense within 5% of max logit)', async () => {
        const { pkg, hf } = await convert(hfDir, { quant: 'q8', denseQuant: 'q8' });
        expect(relError(await logitsOf(pkg.weights()), await logitsOf(hf))).toBeLessThan(0.05);
      });

      it('inspect counts: layers × experts, layer kinds, scoring', async () => {
        const { pkg } = await convert(hfDir, { quant: 'q4' });
        const info = packageInfo(pkg.manifest);
        expect(info.experts).toBe(info.layers * info.expertsPerLayer);
        expect(info.experts).toBe(pkg.spec.num_hidden_layers * pkg.spec.moe.num_experts);
        expect(info.expertBytes).toBe(info.experts * pkg.expertLayout.bytes);
        expect(info.layerKinds).toEqual(
          family === 'minimax' ? ['linear', 'full'] : family.startsWith('gpt_oss') ? ['sliding', 'full'] : ['full', 'full'],
        );
        expect(info.scoring).toBe(family === 'minimax_m2' ? 'sigmoid' : 'softmax');
        expect(info.perLayer.reduce((a, l) => a + l.denseBytes, 0) + info.globalBytes).toBe(info.denseBytes);
      });
    });
  }
});

describe('package details', () => {
  it('MXFP4 experts are kept byte for byte (default for MXFP4 checkpoints); padding columns zeroed', async () => {
    const ck = tinyCheckpoint('gpt_oss_mxfp4', 9);
    const hfDir = writeCheckpoint(ck);
    const { pkg, hf } = await convert(hfDir, { denseQuant: 'f32' });
    expect(pkg.manifest.quantization.experts).toBe('mxfp4');
    const { D, I, G } = { D: 64, I: 40, G: 2 };
    const L = 1;
    const e = 3;
    const blob = await pkg.expertBlob(L, e);
    const lay = pkg.expertLayout;
    const blocks = ck.tensors[`model.layers.${L}.mlp.experts.gate_up_proj_blocks`].data as Uint8Array; // (E, 2I, D/32, 16)
    const scales = ck.tensors[`model.layers.${L}.mlp.experts.gate_up_proj_scales`].data as Uint8Array; // (E, 2I, D/32)
    const rowBytes = (D / 32) * 16;
    for (let j = 0; j < I; j++) {
      // gpt-oss interleaves gate (even rows) and up (odd rows)
      const gRow = e * 2 * I + 2 * j;
      expect(Buffer.from(blob.subarray(lay.gate.offset + j * rowBytes, lay.gate.offset + (j + 1) * rowBytes))).toEqual(Buffer.from(blocks.subarray(gRow * rowBytes, (gRow + 1) * rowBytes)));
      expect(Buffer.from(blob.subarray(lay.up.offset + j * rowBytes, lay.up.offset + (j + 1) * rowBytes))).toEqual(Buffer.from(blocks.subarray((gRow + 1) * rowBytes, (gRow + 2) * rowBytes)));
      const sOff = lay.gate.offset + I * rowBytes;
      expect(Array.from(blob.subarray(sOff + j * (D / 32), sOff + (j + 1) * (D / 32)))).toEqual(Array.from(scales.subarray(gRow * (D / 32), (gRow + 1) * (D / 32))));
    }
    // down (D, I=40): 2 groups per row, columns 40..63 are padding and must hold code 0
    const down = blob.subarray(lay.down.offset, lay.down.offset + lay.down.bytes);
    const dBlocks = ck.tensors[`model.layers.${L}.mlp.experts.down_proj_blocks`].data as Uint8Array;
    for (let r = 0; r < D; r++)
      for (let k = 0; k < G * 32; k++) {
        const idx = r * G * 32 + k;
        const nib = (x: Uint8Array, base: number) => (x[base + (idx >> 1)] >> ((idx & 1) * 4)) & 15;
        expect(nib(down, 0)).toBe(k < I ? nib(dBlocks, e * D * G * 16) : 0);
      }
    // and the package computes what HF's dequantized experts compute
    expect(relError(await logitsOf(pkg.weights()), await logitsOf(hf))).toBeLessThan(1e-6);
  });

  it('MXFP4 source to q4 dequantizes then quantizes', async () => {
    const hfDir = writeCheckpoint(tinyCheckpoint('gpt_oss_mxfp4', 10));
    const { pkg, hf } = await convert(hfDir, { quant: 'q4' });
    const w = await hf.expert(0, 1);
    const got = unpackExpert(pkg.spec, pkg.expertLayout, await pkg.expertBlob(0, 1));
    const [rows, cols] = pkg.expertLayout.down.shape;
    expect(Array.from(got.down)).toEqual(Array.from(dequantizeMatrix('q4', quantizeMatrix('q4', w.down, rows, cols), rows, cols)));
  });

  it('tied embeddings are stored once and still answer lm_head', async () => {
    const hfDir = writeCheckpoint(tinyCheckpoint('qwen3_moe_tied', 4));
    const { pkg } = await convert(hfDir, { quant: 'q8', denseQuant: 'q8' });
    const m = pkg.manifest;
    const embed = m.dense.find((t) => t.name === 'embed_tokens')!;
    const head = m.dense.find((t) => t.name === 'lm_head')!;
    expect([head.file, head.offset, head.bytes]).toEqual([embed.file, embed.offset, embed.bytes]);
    expect(packageInfo(m).tiedEmbeddings).toBe(true);
    expect(Buffer.from((await pkg.dense('lm_head')).data).equals(Buffer.from((await pkg.dense('embed_tokens')).data))).toBe(true);
    const untied = await convert(writeCheckpoint(tinyCheckpoint('minimax_m2', 4)), { quant: 'q8', denseQuant: 'q8' });
    expect(packageInfo(untied.pkg.manifest).tiedEmbeddings).toBe(false);
  });

  it('small shard cap: several shards, every tensor 256-aligned, a big tensor alone in its shard', async () => {
    const hfDir = writeCheckpoint(tinyCheckpoint('minimax_m2', 5));
    const { pkg, hf } = await convert(hfDir, { quant: 'f32', denseQuant: 'f32', shardBytes: 20_000 });
    const shards = new Set(pkg.manifest.dense.map((t) => t.file));
    expect(shards.size).toBeGreaterThan(3);
    for (const t of pkg.manifest.dense) expect(t.offset % 256).toBe(0);
    const embed = pkg.manifest.dense.find((t) => t.name === 'embed_tokens')!; // 96*64*4 = 24 KiB > cap
    expect(embed.offset).toBe(0);
    expect(pkg.manifest.dense.filter((t) => t.file === embed.file)).toHaveLength(1);
    expect(relError(await logitsOf(pkg.weights()), await logitsOf(hf))).toBeLessThan(1e-6);
  });

  it('copies tokenizer files and records them with sha256', async () => {
    const tok = JSON.stringify({ version: '1.0', model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } });
    const hfDir = writeCheckpoint(tinyCheckpoint('minimax', 6), { 'tokenizer.json': tok, 'tokenizer_config.json': '{"chat_template": "x"}', 'chat_template.jinja': '{{ messages }}' });
    const { dir, pkg } = await convert(hfDir, { quant: 'q4' });
    expect(pkg.manifest.tokenizer).toEqual({ tokenizer: 'tokenizer.json', tokenizer_config: 'tokenizer_config.json', chat_template: 'chat_template.jinja', generation_config: null });
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe(tok);
    const f = pkg.manifest.files.find((x) => x.path === 'chat_template.jinja')!;
    expect(f.bytes).toBe(14);
    await pkg.verifyAll();
    // chat_template.json (newer HF repos) becomes chat_template.jinja
    const hf2 = writeCheckpoint(tinyCheckpoint('minimax', 6), { 'chat_template.json': JSON.stringify({ chat_template: '{% for m in messages %}{{ m.content }}{% endfor %}' }) });
    const two = await convert(hf2, { quant: 'q4' });
    expect(two.pkg.manifest.tokenizer.chat_template).toBe('chat_template.jinja');
    expect(readFileSync(join(two.dir, 'chat_template.jinja'), 'utf8')).toBe('{% for m in messages %}{{ m.content }}{% endfor %}');
  });

  it('every expert blob and file is listed with its sha256; verifyAll passes on a fresh package', async () => {
    const { pkg } = await convert(writeCheckpoint(tinyCheckpoint('gpt_oss', 7)), { quant: 'q4' });
    const m = pkg.manifest;
    expect(m.experts).toHaveLength(2 * 4);
    for (const x of m.experts) expect(m.files.find((f) => f.path === x.file)?.sha256).toBe(x.sha256);
    expect(m.expert_layout.bytes % 256).toBe(0);
    await expect(pkg.verifyAll()).resolves.toBeUndefined();
  });
});
