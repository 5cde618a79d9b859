// Writing a WebMoE package from a WeightSource, streaming: one layer's dense tensors or one expert
// in memory at a time (plus the globals), written as soon as they are packed. Files go through a
// PackageSink, so the writer knows no file system: the CLI gives it a Node directory (with a temp
// dir + rename around it), tests an in-memory map.

import { ManifestSchema, checkManifest, MANIFEST_FILE, PACKAGE_FORMAT, PACKAGE_VERSION, denseShardName, expertFileName, type DenseEntry, type ExpertEntry, type FileEntry, type Manifest } from './manifest.ts';
import { DEFAULT_DENSE_QUANT, defaultExpertQuant, expertBlobFrom, expertLayoutFor, layerTensorName, packGlobals, packLayer, type NamedTensor, type PackOptions } from './pack.ts';
import { alignUp, type ExpertLayout, type PackedModel, type PackedTensor, type QuantKind } from './quant-layout.ts';
import { sha256Hex } from './sha256.ts';
import type { DirSource } from './source.ts';
import type { ModelSpec } from './spec.ts';
import { layerFieldsPresent, type WeightSource } from './weights.ts';

export interface FileWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** finish the file; returns its size and sha256 (hex) */
  close(): Promise<{ bytes: number; sha256: string }>;
}

export interface PackageSink {
  /** create a file (path relative to the package root, '/'-separated; parent folders implied) */
  create(path: string): Promise<FileWriter>;
}

export interface WriteProgress {
  /** layers whose dense tensors and experts are written */
  layersDone: number;
  layers: number;
  expertsDone: number;
  expertsTotal: number;
  bytesWritten: number;
}

export interface WriteOptions extends PackOptions {
  /** dense shard size cap in bytes (default 64 MiB; a larger tensor gets a shard of its own) */
  shardBytes?: number;
  /** directory whose tokenizer and chat template files are copied into the package */
  extras?: DirSource;
  /** provenance recorded in manifest.source.converter */
  converter?: string;
  /** more provenance fields for manifest.source (e.g. what pruning kept) */
  source?: Record<string, unknown>;
  onProgress?: (p: WriteProgress) => void;
}

export const DEFAULT_SHARD_BYTES = 64 * 1024 * 1024;

/** Optional files copied as is: manifest.tokenizer key -> file name. */
export const EXTRA_FILES = {
  tokenizer: 'tokenizer.json',
  tokenizer_config: 'tokenizer_config.json',
  chat_template: 'chat_template.jinja',
  generation_config: 'generation_config.json',
} as const;

/** Appends dense tensors to shards, each tensor at a multiple of ALIGN. */
class DenseShards {
  readonly entries: DenseEntry[] = [];
  readonly files: FileEntry[] = [];
  private cur: FileWriter | null = null;
  private curPath = '';
  private pos = 0;
  private next = 0;

  constructor(
    private readonly sink: PackageSink,
    private readonly cap: number,
    private readonly count: (bytes: number) => void,
  ) {}

  async add(name: string, t: PackedTensor, sha256: string): Promise<void> {
    let start = alignUp(this.pos);
    if (this.cur && start + t.data.byteLength > this.cap) await this.close();
    if (!this.cur) {
      this.curPath = denseShardName(this.next++);
      this.cur = await this.sink.create(this.curPath);
      this.pos = 0;
      start = 0;
    }
    if (start > this.pos) await this.cur.write(new Uint8Array(start - this.pos));
    await this.cur.write(t.data);
    this.count(start - this.pos + t.data.byteLength);
    this.pos = start + t.data.byteLength;
    this.entries.push({ name, file: this.curPath, offset: start, bytes: t.data.byteLength, quant: t.quant, shape: [...t.shape], sha256 });
  }

  /** Record `name` as a second name of an already written tensor (tied embeddings). */
  alias(name: string, of: string): void {
    const e = this.entries.find((x) => x.name === of);
    if (!e) throw new RangeError(`alias of unwritten tensor "${of}"`);
    this.entries.push({ ...e, name });
  }

  async close(): Promise<void> {
    if (!this.cur) return;
    const { bytes, sha256 } = await this.cur.close();
    this.files.push({ path: this.curPath, bytes, sha256 });
    this.cur = null;
  }
}

/** A model already in packed form, layer by layer: what the writer streams into files. */
interface PackedParts {
  spec: ModelSpec;
  layout: ExpertLayout;
  quant: { experts: QuantKind; dense: QuantKind };
  /** tensors listed twice as the same object are stored once (tied embeddings) */
  globals(): Promise<NamedTensor[]>;
  layer(layer: number): Promise<NamedTensor[]>;
  expertBlob(layer: number, expert: number): Promise<Uint8Array>;
}

/** Convert `src` into a package through `sink`; manifest.json is written last. */
export async function writePackage(src: WeightSource, sink: PackageSink, opts: WriteOptions = {}): Promise<Manifest> {
  const spec = src.spec;
  const expertQuant = opts.quant ?? (await defaultExpertQuant(src));
  const denseQuant = opts.denseQuant ?? DEFAULT_DENSE_QUANT;
  const layout = expertLayoutFor(spec, expertQuant);
  return writeParts(
    {
      spec,
      layout,
      quant: { experts: expertQuant, dense: denseQuant },
      globals: async () => packGlobals(spec, await src.globals(), denseQuant),
      layer: async (L) => packLayer(spec, L, await src.layer(L), denseQuant),
      expertBlob: (L, e) => expertBlobFrom(src, layout, L, e),
    },
    sink,
    opts,
  );
}

/**
 * Write a PackedModel as is: dense tensors and expert blobs are copied byte for byte (no
 * re-quantization), so a view over another package (e.g. an expert-pruned one, src/prune/) keeps
 * its exact bytes. `quant`/`denseQuant` options are ignored: the tensors carry their own.
 */
export async function writePackedModel(pm: PackedModel, sink: PackageSink, opts: WriteOptions = {}): Promise<Manifest> {
  const spec = pm.spec;
  const names = new Set(pm.denseNames());
  const embed = await pm.dense('embed_tokens');
  const dense = async (name: string) => {
    if (!names.has(name)) throw new RangeError(`packed model has no dense tensor "${name}"`);
    return { name, tensor: await pm.dense(name) };
  };
  return writeParts(
    {
      spec,
      layout: pm.expertLayout,
      quant: { experts: pm.expertLayout.gate.quant, dense: embed.quant },
      async globals() {
        const lm = await pm.dense('lm_head');
        const tied = lm.quant === embed.quant && lm.shape.join() === embed.shape.join() && sameBytes(lm.data, embed.data);
        return [{ name: 'embed_tokens', tensor: embed }, await dense('final_norm'), { name: 'lm_head', tensor: tied ? embed : lm }];
      },
      layer: (L) => Promise.all(layerFieldsPresent(spec, L).map((f) => dense(layerTensorName(L, f)))),
      expertBlob: (L, e) => pm.expertBlob(L, e),
    },
    sink,
    opts,
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function writeParts(parts: PackedParts, sink: PackageSink, opts: WriteOptions): Promise<Manifest> {
  const { spec, layout } = parts;
  const expertQuant = parts.quant.experts;
  const denseQuant = parts.quant.dense;
  const nL = spec.num_hidden_layers;
  const E = spec.moe.num_experts;
  const progress: WriteProgress = { layersDone: 0, layers: nL, expertsDone: 0, expertsTotal: nL * E, bytesWritten: 0 };
  const shards = new DenseShards(sink, opts.shardBytes ?? DEFAULT_SHARD_BYTES, (b) => (progress.bytesWritten += b));

  const writeDense = async (tensors: NamedTensor[]) => {
    const written = new Map<PackedTensor, string>();
    for (const { name, tensor } of tensors) {
      const prev = written.get(tensor);
      if (prev) shards.alias(name, prev);
      else {
        await shards.add(name, tensor, await sha256Hex(tensor.data));
        written.set(tensor, name);
      }
    }
  };

  await writeDense(await parts.globals());
  const experts: ExpertEntry[] = [];
  const expertFiles: FileEntry[] = [];
  for (let L = 0; L < nL; L++) {
    await writeDense(await parts.layer(L));
    for (let e = 0; e < E; e++) {
      const blob = await parts.expertBlob(L, e);
      if (blob.byteLength !== layout.bytes) throw new RangeError(`expert (${L}, ${e}) blob is ${blob.byteLength} bytes, the layout says ${layout.bytes}`);
      const path = expertFileName(L, e);
      const f = await sink.create(path);
      await f.write(blob);
      const { bytes, sha256 } = await f.close();
      experts.push({ layer: L, index: e, file: path, bytes, sha256 });
      expertFiles.push({ path, bytes, sha256 });
      progress.expertsDone++;
      progress.bytesWritten += bytes;
      opts.onProgress?.(progress);
    }
    progress.layersDone++;
    opts.onProgress?.(progress);
  }
  await shards.close();

  const tokenizer: Manifest['tokenizer'] = { tokenizer: null, tokenizer_config: null, chat_template: null, generation_config: null };
  const extraFiles: FileEntry[] = [];
  if (opts.extras) {
    const present = new Set(await opts.extras.list());
    for (const [key, name] of Object.entries(EXTRA_FILES) as [keyof typeof EXTRA_FILES, string][]) {
      if (!present.has(name)) continue;
      const from = await opts.extras.open(name);
      const f = await sink.create(name);
      await f.write(await from.read(0, from.size));
      extraFiles.push({ path: name, ...(await f.close()) });
      tokenizer[key] = name;
    }
    // newer HF repos keep the template in chat_template.json {"chat_template": "..."}: normalize
    if (tokenizer.chat_template === null && present.has('chat_template.json')) {
      const text = await opts.extras.readText('chat_template.json');
      const tpl = text === null ? undefined : (JSON.parse(text) as { chat_template?: unknown }).chat_template;
      if (typeof tpl === 'string') {
        const f = await sink.create(EXTRA_FILES.chat_template);
        await f.write(new TextEncoder().encode(tpl));
        extraFiles.push({ path: EXTRA_FILES.chat_template, ...(await f.close()) });
        tokenizer.chat_template = EXTRA_FILES.chat_template;
      }
    }
  }

  const manifest = ManifestSchema.parse({
    format: PACKAGE_FORMAT,
    version: PACKAGE_VERSION,
    spec,
    source: { ...opts.source, model_type: spec.model_type, converter: opts.converter ?? 'webmoe convert', expert_quant: expertQuant, dense_quant: denseQuant },
    tokenizer,
    quantization: { experts: expertQuant, dense: denseQuant },
    dense: shards.entries,
    expert_layout: layout,
    experts,
    files: [...shards.files, ...expertFiles, ...extraFiles],
  }) as Manifest;
  checkManifest(manifest, MANIFEST_FILE);
  const m = await sink.create(MANIFEST_FILE);
  await m.write(new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n'));
  await m.close();
  return manifest;
}
