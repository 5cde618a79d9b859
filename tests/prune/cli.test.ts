// `webmoe prune` and `webmoe eval-bpb` through the real CLI: JSON on stdout, inspect reflects the
// pruned package, text calibration through the package's tokenizer, bad input exits non-zero.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webmoe } from '../helpers/cli.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPackage } from '../../src/format/package.ts';
import { loadTokenizer } from '../../src/generate/tokenizer.ts';
import { calibrationTokens } from '../../src/prune/index.ts';
import { bitsPerByte, streamWindows } from '../../src/prune/bpb.ts';
import { CALIBRATION_TEXT } from '../../src/prune/calibration.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { removeScratch, scratchDir } from '../package/tiny-checkpoint.ts';
import { byteTokenizerDir, fixturePackage } from './helpers.ts';



let pkgDir = '';
let textFile = '';
afterAll(removeScratch);
beforeAll(async () => {
  // minimax_m2: sigmoid scoring with e_score_correction_bias; a byte tokenizer so text works
  pkgDir = (await fixturePackage('minimax_m2', { extras: nodeDir(byteTokenizerDir()) })).dir;
  textFile = join(scratchDir('text'), 'cal.txt');
  writeFileSync(textFile, CALIBRATION_TEXT.slice(0, 400));
});

describe('webmoe prune', () => {
  it('prints a JSON summary; inspect shows the pruned counts; the tokenizer comes along', async () => {
    const out = join(scratchDir('cli'), 'pruned');
    const r = await webmoe(['prune', pkgDir, out, '--ratio', '0.25', '--calibration', textFile, '--window', '64']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ package: out, method: 'reap', ratio: 0.25, expertsPerLayer: { before: 8, after: 6 }, experts: { before: 24, after: 18 } });
    // 400 bytes -> 400 byte ids, windows of BOS + 63 ids
    expect(s.calibration).toEqual({ tokens: 400 + Math.ceil(400 / 63), windows: Math.ceil(400 / 63) });
    expect(s.layers).toHaveLength(3);
    for (const l of s.layers) {
      expect(l.kept).toHaveLength(6);
      expect(l.removed).toHaveLength(2);
      expect(l.saliency.keptMin).toBeGreaterThanOrEqual(l.saliency.removedMax);
    }
    expect(s.expertBytes.after / s.expertBytes.before).toBeCloseTo(0.75, 10);
    const i = await webmoe(['inspect', out, '--json', '--verify']);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ layers: 3, experts: 18, expertsPerLayer: 6, topK: 2, tokenizer: true, verified: true });
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(pkgDir, 'tokenizer.json'), 'utf8'));
    expect(readdirSync(join(out, '..'))).toEqual(['pruned']); // no temp dir left
  });

  it('--calibration-tokens, --method frequency, --builtin-calibration; --force replaces OUT', async () => {
    const out = join(scratchDir('cli'), 'pruned');
    const a = await webmoe(['prune', pkgDir, out, '--ratio', '0.5', '--calibration-tokens', '1,2,3,4,5,6,7,8,9,10', '--method', 'frequency']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ method: 'frequency', calibration: { tokens: 10, windows: 1 }, experts: { after: 12 } });
    const again = await webmoe(['prune', pkgDir, out, '--ratio', '0.5', '--builtin-calibration']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty; pass --force/);
    const b = await webmoe(['prune', pkgDir, out, '--ratio', '0.5', '--builtin-calibration', '--force']);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).calibration.tokens).toBeGreaterThan(1500);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).source.pruned.method).toBe('reap');
  });

  it('bad input: non-zero exit, a message on stderr, nothing on stdout, nothing written', async () => {
    const parent = scratchDir('cli-bad');
    const out = join(parent, 'o');
    const cases: [string[], RegExp][] = [
      [['prune', pkgDir, out, '--calibration-tokens', '1,2'], /--ratio R is required/],
      [['prune', pkgDir, out, '--ratio', '0', '--calibration-tokens', '1,2'], /--ratio must be in \(0, 1\)/],
      [['prune', pkgDir, out, '--ratio', '1.5', '--calibration-tokens', '1,2'], /--ratio must be in \(0, 1\)/],
      [['prune', pkgDir, out, '--ratio', 'half', '--calibration-tokens', '1,2'], /must be a number/],
      [['prune', pkgDir, out, '--ratio', '0.9', '--calibration-tokens', '1,2'], /fewer than top-k/],
      [['prune', pkgDir, out, '--ratio', '0.5'], /exactly one of --calibration FILE/],
      [['prune', pkgDir, out, '--ratio', '0.5', '--calibration', textFile, '--calibration-tokens', '1'], /exactly one of/],
      [['prune', pkgDir, out, '--ratio', '0.5', '--calibration', join(parent, 'missing.txt')], /no such file/],
      [['prune', pkgDir, out, '--ratio', '0.5', '--calibration-tokens', '1,999'], /outside the vocabulary/],
      [['prune', pkgDir, out, '--ratio', '0.5', '--calibration-tokens', '1,2', '--method', 'random'], /--method must be reap or frequency/],
      [['prune', parent, out, '--ratio', '0.5', '--calibration-tokens', '1,2'], /no manifest.json/],
      [['prune', pkgDir, '--ratio', '0.5', '--calibration-tokens', '1,2'], /usage: webmoe prune/],
    ];
    for (const [args, msg] of cases) {
      const r = await webmoe(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(msg);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('webmoe eval-bpb', () => {
  it('stream windows score every id once, the later windows with at least half a window of context', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i + 10);
    const w = streamWindows(ids, 16, [1]);
    const scored = w.flatMap((x) => x.tokens.slice(x.first));
    expect(scored).toEqual(ids);
    expect(w.every((x) => x.tokens[0] === 1 && x.tokens.length <= 16)).toBe(true);
    expect(w.slice(1).every((x) => x.first - 1 >= 7)).toBe(true);
    expect(streamWindows(ids, 100, [1])).toEqual([{ tokens: [1, ...ids], first: 1 }]);
  });

  it('bpb = sum of -log2 p(id) / bytes; the CLI prints the same numbers', async () => {
    const pkg = await openPackage(nodeDir(pkgDir));
    const tok = (await loadTokenizer(nodeDir(pkgDir)))!;
    const model = await ReferenceModel.load(pkg.weights());
    const text = 'Once upon a time, a cat sat on a mat.';
    const ids = [1, ...tok.encode(text, false)];
    const logits = model.forward(model.newState(ids.length), ids.slice(0, -1));
    let bits = 0;
    for (let t = 1; t < ids.length; t++) {
      const l = Array.from(logits[t - 1]);
      const m = Math.max(...l);
      bits += (Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0)) + m - l[ids[t]]) / Math.LN2;
    }
    const r = bitsPerByte(model, tok, text);
    expect(r).toMatchObject({ tokens: text.length, bytes: text.length, windows: 1 });
    expect(r.bpb).toBeCloseTo(bits / text.length, 10);
    expect(r.bpb).toBeGreaterThan(1); // a random model: ~ log2(256) / 1 byte per id
    // windows of 16: more windows, every id still scored once
    const small = bitsPerByte(model, tok, text, { ctx: 16 });
    expect(small.tokens).toBe(text.length);
    expect(small.windows).toBeGreaterThan(1);

    const file = join(scratchDir('bpb'), 'valid.txt');
    writeFileSync(file, `${text}\nSecond line that --max-bytes cuts away.\n`);
    const c = await webmoe(['eval-bpb', '--model', pkgDir, '--text', file, '--max-bytes', String(text.length + 5)]);
    expect(c.code, c.stderr).toBe(0);
    const j = JSON.parse(c.stdout);
    expect(j.bytes).toBe(text.length + 1); // cut back to the line break
    expect(j.tokens).toBe(text.length + 1);
    const bad = await webmoe(['eval-bpb', '--model', pkgDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--text FILE is required/);
  });

  it('calibration text becomes BOS-led windows of the model context', async () => {
    const pkg = await openPackage(nodeDir(pkgDir));
    const w = await calibrationTokens(pkg, { text: 'abc' }, 2);
    expect(w).toEqual([[1, 97], [1, 98], [1, 99]]);
    await expect(calibrationTokens(pkg, { text: 'abc' }, 100000)).rejects.toThrow(/the model's context/);
  });
});
