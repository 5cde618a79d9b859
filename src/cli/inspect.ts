// webmoe inspect PKG [--json] [--verify]
// What a package holds: counts, quantization, dense vs expert bytes per layer, bytes per token.
// --json prints PackageInfo (src/format/package-info.ts); --verify also re-hashes every file.

import { packageInfo, type PackageInfo } from '../format/package-info.ts';
import { UsageError, bool, parseArgs } from './args.ts';
import { openPackageDir } from './load-package.ts';

function fmt(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

export function infoTable(dir: string, i: PackageInfo): string {
  const pad = (s: string, w: number) => s.padEnd(w);
  const lines = [
    `package   ${dir}  (${i.format} v${i.version})`,
    `model     ${i.modelType}: ${i.layers} layers × ${i.expertsPerLayer} experts (top-${i.topK}, ${i.scoring} scoring) = ${i.experts} expert blobs`,
    `quant     experts ${i.quant.experts}, dense ${i.quant.dense}${i.tiedEmbeddings ? ', tied embeddings (stored once)' : ''}`,
    `files     ${i.files} (+ manifest.json), ${fmt(i.totalBytes)}; tokenizer ${i.tokenizer ? 'yes' : 'no'}, chat template ${i.chatTemplate ? 'yes' : 'no'}`,
    '',
    `${pad('layer', 7)}${pad('kind', 9)}${pad('dense', 13)}experts (${i.expertsPerLayer} × ${fmt(i.expertBlobBytes)})`,
    ...i.perLayer.map((l) => `${pad(String(l.layer), 7)}${pad(l.kind, 9)}${pad(fmt(l.denseBytes), 13)}${fmt(l.expertBytes)}`),
    `${pad('global', 16)}${pad(fmt(i.globalBytes), 13)}(embed_tokens, final_norm, lm_head)`,
    `${pad('total', 16)}${pad(fmt(i.denseBytes), 13)}${fmt(i.expertBytes)}`,
    '',
    `one token at top-${i.topK}: dense ${fmt(i.bytesPerToken.dense)} + experts ${fmt(i.bytesPerToken.experts)} ` +
      `(${i.topK} × ${i.layers} × ${fmt(i.expertBlobBytes)}) = ${fmt(i.bytesPerToken.total)}`,
  ];
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['json', 'verify']);
  if (a.positional.length !== 1) throw new UsageError('usage: webmoe inspect PKG [--json] [--verify]');
  const dir = a.positional[0];
  const pkg = await openPackageDir(dir);
  if (bool(a, 'verify')) await pkg.verifyAll();
  const info = packageInfo(pkg.manifest);
  if (bool(a, 'json')) process.stdout.write(JSON.stringify(bool(a, 'verify') ? { ...info, verified: true } : info) + '\n');
  else process.stdout.write(infoTable(dir, info) + (bool(a, 'verify') ? '\n\nverified: every file matches its sha256' : '') + '\n');
  return 0;
}
