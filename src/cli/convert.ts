// webmoe convert HF_DIR OUT_DIR [--quant q4|q8|f16|f32|mxfp4] [--dense-quant q8|f16|f32|q4] [--force]
//   [--shard-mib N]
// Streams an HF checkpoint into a WebMoE package, tensor by tensor and expert by expert. The
// package is written to a temp dir next to OUT_DIR and renamed into place at the end, so a failed
// or interrupted run leaves no half-written package. Progress and peak RSS go to stderr; stdout
// gets a JSON summary.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { HfCheckpoint } from '../format/hf-checkpoint.ts';
import { packageInfo } from '../format/package-info.ts';
import type { PackageSink, WriteProgress } from '../format/package-write.ts';
import { writePackage } from '../format/package-write.ts';
import { QUANT_KINDS, type QuantKind } from '../format/quant-layout.ts';
import { nodeDir } from '../store/node-dir.ts';
import { UsageError, bool, int, parseArgs, str } from './args.ts';
import { checkOutDir, isInside, writeDirAtomically } from './out-dir.ts';

const USAGE = 'webmoe convert HF_DIR OUT_DIR [--quant q4|q8|f16|f32|mxfp4] [--dense-quant q8|f16|f32|q4] [--shard-mib N] [--force]';

/** Files under a directory on the local disk, hashed while written. */
export function nodeSink(root: string): PackageSink {
  return {
    async create(path) {
      const full = join(root, ...path.split('/'));
      await mkdir(dirname(full), { recursive: true });
      const fh = await open(full, 'w');
      const hash = createHash('sha256');
      let bytes = 0;
      return {
        async write(b) {
          let done = 0;
          while (done < b.byteLength) done += (await fh.write(b, done, b.byteLength - done)).bytesWritten;
          hash.update(b);
          bytes += b.byteLength;
        },
        async close() {
          await fh.close();
          return { bytes, sha256: hash.digest('hex') };
        },
      };
    },
  };
}

function quantFlag(a: ReturnType<typeof parseArgs>, name: string, allowed: QuantKind[]): QuantKind | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  if (!allowed.includes(v as QuantKind)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as QuantKind;
}

const MiB = 1024 * 1024;

function fmtBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** Throttled progress lines on stderr (nothing for runs shorter than a couple of seconds). */
function progressPrinter(t0: number): (p: WriteProgress) => void {
  let last = t0;
  return (p) => {
    const now = performance.now();
    if (now - last < 2000) return;
    last = now;
    const s = (now - t0) / 1000;
    const frac = p.expertsDone / p.expertsTotal;
    const eta = frac > 0 ? (s / frac) * (1 - frac) : NaN;
    process.stderr.write(
      `convert: layer ${p.layersDone}/${p.layers}, experts ${p.expertsDone}/${p.expertsTotal} (${(frac * 100).toFixed(1)}%), ` +
        `${fmtBytes(p.bytesWritten)} written, ${fmtBytes(p.bytesWritten / s)}/s` +
        (Number.isFinite(eta) ? `, ETA ${Math.round(eta)} s` : '') +
        '\n',
    );
  };
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['force']);
  if (a.positional.length !== 2) throw new UsageError(`usage: ${USAGE}`);
  const hfDir = resolve(a.positional[0]);
  const outDir = resolve(a.positional[1]);
  const quant = quantFlag(a, 'quant', QUANT_KINDS);
  const denseQuant = quantFlag(a, 'dense-quant', ['q8', 'f16', 'f32', 'q4']);
  const shardMiB = int(a, 'shard-mib', 64)!;
  if (shardMiB < 1) throw new UsageError('--shard-mib must be at least 1');
  const force = bool(a, 'force');

  if (!existsSync(join(hfDir, 'config.json'))) throw new UsageError(`${hfDir}: no config.json; HF_DIR must be a Hugging Face checkpoint directory`);
  if (isInside(outDir, hfDir) || isInside(hfDir, outDir)) throw new UsageError(`OUT_DIR ${outDir} and HF_DIR ${hfDir} must not contain each other`);
  checkOutDir(outDir, force);

  const t0 = performance.now();
  const hfSrc = nodeDir(hfDir);
  const src = await HfCheckpoint.open(hfSrc);
  const manifest = await writeDirAtomically(outDir, (tmp) =>
    writePackage(src, nodeSink(tmp), {
      quant,
      denseQuant,
      shardBytes: shardMiB * MiB,
      extras: hfSrc,
      converter: `webmoe convert${quant ? ` --quant ${quant}` : ''}${denseQuant ? ` --dense-quant ${denseQuant}` : ''}`,
      onProgress: progressPrinter(t0),
    }),
  );

  const seconds = (performance.now() - t0) / 1000;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const { denseBytes, expertBytes, totalBytes } = packageInfo(manifest);
  process.stderr.write(`convert: wrote ${outDir} (${fmtBytes(totalBytes)}) in ${seconds.toFixed(1)} s; peak RSS ${fmtBytes(peakRss)}\n`);
  const summary = {
    package: outDir,
    modelType: manifest.spec.model_type,
    quant: manifest.quantization,
    layers: manifest.spec.num_hidden_layers,
    experts: manifest.experts.length,
    files: manifest.files.length + 1,
    denseBytes,
    expertBytes,
    totalBytes,
    seconds: Math.round(seconds * 1000) / 1000,
    peakRssBytes: peakRss,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  return 0;
}
