// webmoe prune PKG OUT --ratio R (--calibration FILE | --calibration-tokens LIST | --builtin-calibration)
//   [--method reap|frequency] [--window N] [--force]
// Removes round(R * E) experts of lowest saliency in every layer (REAP: mean over routed
// calibration tokens of gate x ||expert output||; frequency: share of tokens routed) and writes a
// package with the survivors (src/prune/). Written to a temp dir next to OUT and renamed into
// place. stdout: a JSON summary (kept/removed experts per layer, saliency statistics).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageInfo } from '../format/package-info.ts';
import { PRUNE_METHODS, planPrune, planSummary, writePruned, type Calibration, type PruneMethod } from '../prune/index.ts';
import { UsageError, bool, int, num, parseArgs, str, tokenList } from './args.ts';
import { nodeSink } from './convert.ts';
import { checkOutDir, isInside, writeDirAtomically } from './out-dir.ts';
import { openPackageDir } from './load-package.ts';

const USAGE =
  'webmoe prune PKG OUT --ratio R (--calibration FILE | --calibration-tokens LIST | --builtin-calibration) [--method reap|frequency] [--window N] [--force]';

async function calibrationOf(a: ReturnType<typeof parseArgs>): Promise<Calibration> {
  const file = str(a, 'calibration');
  const tokens = str(a, 'calibration-tokens');
  const builtin = bool(a, 'builtin-calibration');
  if ([file !== undefined, tokens !== undefined, builtin].filter(Boolean).length !== 1)
    throw new UsageError(`give exactly one of --calibration FILE, --calibration-tokens LIST or --builtin-calibration\nusage: ${USAGE}`);
  if (tokens !== undefined) return { tokens: tokenList(tokens, 'calibration-tokens') };
  if (builtin) return { text: (await import('../prune/calibration.ts')).CALIBRATION_TEXT };
  if (!existsSync(file!) || !statSync(file!).isFile()) throw new UsageError(`--calibration ${file}: no such file`);
  const text = readFileSync(file!, 'utf8');
  if (text.trim().length === 0) throw new UsageError(`--calibration ${file} is empty`);
  return { text };
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['force', 'builtin-calibration']);
  if (a.positional.length !== 2) throw new UsageError(`usage: ${USAGE}`);
  const pkgDir = resolve(a.positional[0]);
  const outDir = resolve(a.positional[1]);
  const ratio = num(a, 'ratio');
  if (ratio === undefined) throw new UsageError(`--ratio R is required (the fraction of experts to remove per layer, e.g. 0.25)\nusage: ${USAGE}`);
  if (!(ratio > 0 && ratio < 1)) throw new UsageError(`--ratio must be in (0, 1), got ${ratio}`);
  const method = (str(a, 'method') ?? 'reap') as PruneMethod;
  if (!PRUNE_METHODS.includes(method)) throw new UsageError(`--method must be ${PRUNE_METHODS.join(' or ')}, got "${method}"`);
  const window = int(a, 'window');
  const calibration = await calibrationOf(a);
  if (!existsSync(join(pkgDir, 'manifest.json')))
    throw new UsageError(`${pkgDir}: no manifest.json; PKG must be a WebMoE package (convert an HF checkpoint first with \`webmoe convert\`)`);
  if (isInside(outDir, pkgDir) || isInside(pkgDir, outDir)) throw new UsageError(`OUT ${outDir} and PKG ${pkgDir} must not contain each other`);
  checkOutDir(outDir, bool(a, 'force'), 'OUT');

  const t0 = performance.now();
  const pkg = await openPackageDir(pkgDir);
  let last = t0;
  const plan = await planPrune(pkg, {
    ratio,
    method,
    calibration,
    window,
    onProgress: (p) => {
      const now = performance.now();
      if (p.phase !== 'calibrate' || now - last < 2000) return;
      last = now;
      process.stderr.write(`prune: calibration window ${p.windowsDone}/${p.windows}, ${p.tokensDone} tokens, ${((now - t0) / 1000).toFixed(0)} s\n`);
    },
  });

  const manifest = await writeDirAtomically(outDir, (tmp) => writePruned(pkg, plan, nodeSink(tmp)));

  const before = packageInfo(pkg.manifest);
  const after = packageInfo(manifest);
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write(`prune: wrote ${outDir}: ${after.expertsPerLayer} of ${before.expertsPerLayer} experts per layer (${method}) in ${seconds.toFixed(1)} s\n`);
  const summary = {
    package: outDir,
    source: pkgDir,
    ...planSummary(plan),
    experts: { before: before.experts, after: after.experts },
    expertBytes: { before: before.expertBytes, after: after.expertBytes },
    totalBytes: { before: before.totalBytes, after: after.totalBytes },
    seconds: Math.round(seconds * 1000) / 1000,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  return 0;
}
