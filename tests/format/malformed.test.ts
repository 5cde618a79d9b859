// Malformed checkpoints give typed errors that name the file (and tensor), never a crash or a
// silently wrong answer.

import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError, MissingTensorError, UnsupportedModelError } from '../../src/format/errors.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { fixtureDir } from '../helpers/fixtures.ts';

/** A copy of a fixture checkpoint whose config and safetensors the test may edit. */
function copyFixture(name: string) {
  const dir = mkdtempSync(join(tmpdir(), 'webmoe-bad-'));
  copyFileSync(join(fixtureDir(name), 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(fixtureDir(name), 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

function readHeader(file: string): { len: number; header: Record<string, any>; data: Buffer } {
  const buf = readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  return { len, header: JSON.parse(buf.subarray(8, 8 + len).toString('utf8')), data: buf.subarray(8 + len) };
}

function writeWithHeader(file: string, header: Record<string, unknown>, data: Buffer) {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(file, Buffer.concat([len, h, data]));
}

const load = async (dir: string) => ReferenceModel.load(await HfCheckpoint.open(nodeDir(dir)));

describe('malformed checkpoints', () => {
  it('truncated safetensors names the file and the tensor that runs past the end', async () => {
    const dir = copyFixture('qwen3_moe');
    const f = join(dir, 'model.safetensors');
    const buf = readFileSync(f);
    writeFileSync(f, buf.subarray(0, buf.length - 1000));
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain('model.safetensors');
    expect(err.message).toMatch(/truncated/);
    expect(err.tensor).toBeTruthy();
  });

  it('a file shorter than the header length is rejected', async () => {
    const dir = copyFixture('qwen3_moe');
    writeFileSync(join(dir, 'model.safetensors'), Buffer.from([255, 255, 0, 0, 0, 0, 0, 0, 123]));
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain('model.safetensors');
  });

  it('a header that lies about a tensor size is rejected', async () => {
    const dir = copyFixture('qwen3_moe');
    const f = join(dir, 'model.safetensors');
    const { header, data } = readHeader(f);
    const name = 'model.layers.0.self_attn.q_proj.weight';
    header[name].shape = [header[name].shape[0] + 1, header[name].shape[1]];
    writeWithHeader(f, header, data);
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.tensor).toBe(name);
    expect(err.message).toMatch(/bytes/);
  });

  it('overlapping tensors (lying offsets) are rejected', async () => {
    const dir = copyFixture('qwen3_moe');
    const f = join(dir, 'model.safetensors');
    const { header, data } = readHeader(f);
    const names = Object.keys(header).filter((k) => k !== '__metadata__' && header[k].dtype === 'BF16');
    const [a, b] = names.filter((n) => header[n].data_offsets[1] - header[n].data_offsets[0] === header[names[0]].data_offsets[1] - header[names[0]].data_offsets[0]);
    header[b].data_offsets = [...header[a].data_offsets];
    writeWithHeader(f, header, data);
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/overlap/);
  });

  it('an unknown dtype is named', async () => {
    const dir = copyFixture('qwen3_moe');
    const f = join(dir, 'model.safetensors');
    const { header, data } = readHeader(f);
    header['model.norm.weight'].dtype = 'C64';
    writeWithHeader(f, header, data);
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.tensor).toBe('model.norm.weight');
    expect(err.message).toContain('unsupported dtype "C64"');
  });

  it('an unsupported model_type lists the supported ones', async () => {
    const dir = copyFixture('qwen3_moe');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.model_type = 'llama';
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect(err.message).toContain('"llama"');
    expect(err.message).toContain('minimax_m2');
  });

  it('a missing config field is named', async () => {
    const dir = copyFixture('mixtral');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    delete cfg.hidden_size;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('hidden_size');
  });

  it('a missing tensor is named', async () => {
    const dir = copyFixture('mixtral');
    const f = join(dir, 'model.safetensors');
    const { header, data } = readHeader(f);
    delete header['model.layers.1.self_attn.k_proj.weight'];
    writeWithHeader(f, header, data);
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(MissingTensorError);
    expect(err.message).toContain('model.layers.1.self_attn.k_proj.weight');
  });

  it('a tensor whose shape disagrees with the config is named', async () => {
    const dir = copyFixture('mixtral');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.num_key_value_heads = 4; // k_proj is stored for 2 kv heads
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain('model.safetensors');
    expect(err.tensor).toMatch(/k_proj/);
    expect(err.message).toMatch(/does not match the config/);
  });

  it('invalid JSON in config.json is reported with the file name', async () => {
    const dir = copyFixture('mixtral');
    writeFileSync(join(dir, 'config.json'), '{"model_type": "mixtral",');
    const err = await load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('config.json');
  });
});
