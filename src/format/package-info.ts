// What a package holds, computed from its manifest alone: counts, bytes by kind and by layer, and
// what one token reads at top-k. `webmoe inspect` prints it; the UI can show it before a download.

import type { Manifest } from './manifest.ts';
import { layerKindName, type LayerKindName } from './spec.ts';

export interface LayerInfo {
  layer: number;
  kind: LayerKindName;
  denseBytes: number;
  /** all experts of the layer */
  expertBytes: number;
}

export interface PackageInfo {
  format: string;
  version: number;
  modelType: string;
  layers: number;
  /** total expert blobs (layers × expertsPerLayer) */
  experts: number;
  expertsPerLayer: number;
  topK: number;
  /** bytes of one expert blob */
  expertBlobBytes: number;
  /** bytes of all expert blobs */
  expertBytes: number;
  /** bytes of all dense tensors (tied tensors counted once) */
  denseBytes: number;
  /** every file in the package except manifest.json */
  totalBytes: number;
  files: number;
  layerKinds: LayerKindName[];
  scoring: 'softmax' | 'sigmoid';
  quant: { experts: string; dense: string };
  tiedEmbeddings: boolean;
  tokenizer: boolean;
  chatTemplate: boolean;
  /** bytes of embed_tokens, final_norm, lm_head (once if tied) */
  globalBytes: number;
  perLayer: LayerInfo[];
  /** weights one decoded token touches: dense minus the embedding table, plus top-k experts per layer */
  bytesPerToken: { dense: number; experts: number; total: number };
}

export function packageInfo(m: Manifest): PackageInfo {
  const s = m.spec;
  const unique = new Map<string, { name: string; bytes: number }>();
  for (const t of m.dense) if (!unique.has(`${t.file}@${t.offset}`)) unique.set(`${t.file}@${t.offset}`, { name: t.name, bytes: t.bytes });
  const tensors = [...unique.values()];
  const denseBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  const perLayer: LayerInfo[] = s.layers.map((l, L) => ({ layer: L, kind: layerKindName(l), denseBytes: 0, expertBytes: 0 }));
  let globalBytes = 0;
  for (const t of tensors) {
    const mm = /^layers\.(\d+)\./.exec(t.name);
    if (mm) perLayer[Number(mm[1])].denseBytes += t.bytes;
    else globalBytes += t.bytes;
  }
  for (const x of m.experts) perLayer[x.layer].expertBytes += x.bytes;
  const embed = m.dense.find((t) => t.name === 'embed_tokens')!;
  const lmHead = m.dense.find((t) => t.name === 'lm_head')!;
  const tied = embed.file === lmHead.file && embed.offset === lmHead.offset;
  const K = s.moe.num_experts_per_tok;
  const perTokenDense = denseBytes - (tied ? 0 : embed.bytes);
  const perTokenExperts = K * s.num_hidden_layers * m.expert_layout.bytes;
  return {
    format: m.format,
    version: m.version,
    modelType: s.model_type,
    layers: s.num_hidden_layers,
    experts: m.experts.length,
    expertsPerLayer: s.moe.num_experts,
    topK: K,
    expertBlobBytes: m.expert_layout.bytes,
    expertBytes: m.experts.reduce((a, x) => a + x.bytes, 0),
    denseBytes,
    totalBytes: m.files.reduce((a, f) => a + f.bytes, 0),
    files: m.files.length,
    layerKinds: perLayer.map((l) => l.kind),
    scoring: s.moe.scoring_func,
    quant: { experts: m.quantization.experts, dense: m.quantization.dense },
    tiedEmbeddings: tied,
    tokenizer: m.tokenizer.tokenizer !== null,
    chatTemplate: m.tokenizer.chat_template !== null,
    globalBytes,
    perLayer,
    bytesPerToken: { dense: perTokenDense, experts: perTokenExperts, total: perTokenDense + perTokenExperts },
  };
}
