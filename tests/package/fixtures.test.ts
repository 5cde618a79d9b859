// Every committed HF fixture converted to a package: at f32 it reproduces HF transformers' logits
// (1e-4 relative); quantized packages equal the CPU reference on the same packed weights made in
// memory. Top-1 agreement with HF and the max relative logit error per quantization are printed
// (information: random tiny checkpoints have nearly tied logits, so these are not quality bars).

import { afterAll, describe, expect, it } from 'vitest';
import { nodeSink } from '../../src/cli/convert.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { packInMemory, packedWeights } from '../../src/format/pack.ts';
import { openPackage } from '../../src/format/package.ts';
import { writePackage } from '../../src/format/package-write.ts';
import type { QuantKind } from '../../src/format/quant-layout.ts';
import type { WeightSource } from '../../src/format/weights.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { argmax, expected, fixtureDir, fixtureNames, relError } from '../helpers/fixtures.ts';
import { removeScratch, scratchDir } from './tiny-checkpoint.ts';

interface Setting {
  label: string;
  quant?: QuantKind;
  denseQuant: QuantKind;
}

const SETTINGS: Setting[] = [
  { label: 'f32', quant: 'f32', denseQuant: 'f32' },
  { label: 'q8', quant: 'q8', denseQuant: 'q8' },
  { label: 'q4 (dense q8)', quant: 'q4', denseQuant: 'q8' },
  { label: 'q4 everywhere', quant: 'q4', denseQuant: 'q4' },
  { label: 'default', denseQuant: 'q8' },
];

const rows: string[] = [];

async function logitsOf(src: WeightSource, tokens: number[]): Promise<Float32Array[]> {
  const m = await ReferenceModel.load(src);
  return m.forward(m.newState(tokens.length), tokens);
}

describe('fixtures converted to packages', () => {
  for (const name of fixtureNames()) {
    describe(name, () => {
      const exp = expected(name);
      for (const s of SETTINGS) {
        it(`${s.label}`, async () => {
          const hf = await HfCheckpoint.open(nodeDir(fixtureDir(name)));
          const dir = scratchDir(`fx-${name}`);
          const opts = { quant: s.quant, denseQuant: s.denseQuant };
          const manifest = await writePackage(hf, nodeSink(dir), opts);
          const pkg = await openPackage(nodeDir(dir));
          const got = await logitsOf(pkg.weights(), exp.tokens);
          const err = relError(got, exp.logits);
          if (s.label === 'f32') expect(err).toBeLessThan(1e-4);
          else {
            // the package adds nothing beyond the codec: same as the in-memory packed weights
            const mem = await logitsOf(packedWeights(await packInMemory(hf, opts)), exp.tokens);
            expect(relError(got, mem)).toBeLessThan(1e-5);
          }
          const top1 = got.filter((l, t) => argmax(l) === argmax(exp.logits[t])).length / got.length;
          rows.push(`${name.padEnd(16)} ${`${s.label} [${manifest.quantization.experts}/${manifest.quantization.dense}]`.padEnd(32)} top1 ${top1.toFixed(3)}  maxrel ${err.toExponential(2)}`);
        });
      }
    });
  }
  afterAll(() => {
    removeScratch();
    console.log(['fixture          setting [experts/dense]         top-1 vs HF, max |Δ|/max|logit|', ...rows].join('\n'));
  });
});
