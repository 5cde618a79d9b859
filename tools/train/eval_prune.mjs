#!/usr/bin/env node
// REAP vs frequency expert pruning on a package, measured in bits per byte with the CPU reference:
// prunes PKG at each ratio with each method (webmoe prune), scores the unpruned and every pruned
// package on the same prefix of a validation text (webmoe eval-bpb), and prints a Markdown table
// plus the raw JSON. Calibration comes from a file that must not overlap the validation text.
//
// usage: node tools/train/eval_prune.mjs PKG --valid FILE --calibration FILE
//          [--max-bytes 32768] [--cal-bytes 32768] [--ratios 0.25,0.5] [--work DIR] [--no-base]

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'webmoe.mjs');
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const pkg = argv[0];
const valid = flag('valid');
const calFile = flag('calibration');
if (!pkg || !valid || !calFile) {
  process.stderr.write('usage: node tools/train/eval_prune.mjs PKG --valid FILE --calibration FILE [--max-bytes N] [--cal-bytes N] [--ratios 0.25,0.5]\n');
  process.exit(2);
}
const maxBytes = flag('max-bytes', '32768');
const calBytes = Number(flag('cal-bytes', '32768'));
const ratios = flag('ratios', '0.25,0.5').split(',').map(Number);
const work = flag('work') ?? mkdtempSync(join(tmpdir(), 'webmoe-eval-prune-'));
mkdirSync(work, { recursive: true });

const webmoe = (args) => JSON.parse(execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 }));

// the calibration slice: the first cal-bytes of the file, cut at a line break
const cal = readFileSync(calFile, 'utf8');
const calText = Buffer.byteLength(cal) <= calBytes ? cal : cal.slice(0, Buffer.from(cal).subarray(0, calBytes).toString('utf8').lastIndexOf('\n') + 1);
const calPath = join(work, 'calibration.txt');
writeFileSync(calPath, calText);

const rows = [];
const base = argv.includes('--no-base') ? null : webmoe(['eval-bpb', '--model', pkg, '--text', valid, '--max-bytes', maxBytes]);
if (base) rows.push({ method: 'none', ratio: 0, experts: null, ...base });
for (const ratio of ratios)
  for (const method of ['reap', 'frequency']) {
    const out = join(work, `${method}-${ratio}`);
    const p = webmoe(['prune', pkg, out, '--ratio', String(ratio), '--method', method, '--calibration', calPath, '--force']);
    const e = webmoe(['eval-bpb', '--model', out, '--text', valid, '--max-bytes', maxBytes]);
    const mean = (k) => p.layers.reduce((a, l) => a + l[k], 0) / p.layers.length;
    rows.push({
      method,
      ratio,
      experts: p.expertsPerLayer,
      kept: p.layers.map((l) => l.kept),
      calibrationTokens: p.calibration.tokens,
      removedRoutingShare: mean('removedRoutingShare'),
      removedSaliencyShare: mean('removedSaliencyShare'),
      ...e,
    });
    rmSync(out, { recursive: true, force: true });
  }

const lines = [
  `| pruned | method | experts / layer | bits/byte | Δ vs unpruned | calibration routings removed |`,
  `| --- | --- | --- | --- | --- | --- |`,
  ...rows.map((r) =>
    `| ${r.ratio ? `${r.ratio * 100}%` : '0%'} | ${r.method === 'none' ? '—' : r.method} | ${r.experts ? `${r.experts.after} of ${r.experts.before}` : 'all'} | ${r.bpb.toFixed(4)} | ${r.ratio && base ? `+${(r.bpb - base.bpb).toFixed(4)}` : ''} | ${r.ratio ? `${(r.removedRoutingShare * 100).toFixed(1)}%` : ''} |`,
  ),
];
process.stdout.write(lines.join('\n') + '\n\n');
process.stdout.write(JSON.stringify({ package: pkg, valid, maxBytes: Number(maxBytes), calibration: { file: calFile, bytes: Buffer.byteLength(calText) }, rows }, null, 1) + '\n');
if (!flag('work')) rmSync(work, { recursive: true, force: true });
