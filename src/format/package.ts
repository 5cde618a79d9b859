// Reading a WebMoE package (see manifest.ts for the directory layout) from any DirSource: a Node
// directory, IndexedDB, HTTP. Implements PackedModel for the engine, and gives a dequantized
// WeightSource view for the CPU reference.
//
// Integrity: manifest.json is schema-checked before anything else is read; dense shards must have
// the size the manifest records (a shorter file is a truncated download: CheckpointError); every
// dense tensor and expert blob read is checked against its sha256 (IntegrityError naming the file).

import { CheckpointError, IntegrityError } from './errors.ts';
import { MANIFEST_FILE, ManifestError, expertIndex, parseManifest, type DenseEntry, type ExpertEntry, type FileEntry, type Manifest } from './manifest.ts';
import { packedWeights } from './pack.ts';
import type { ExpertLayout, PackedModel, PackedTensor } from './quant-layout.ts';
import type { ByteSource } from './safetensors.ts';
import { sha256Hex } from './sha256.ts';
import type { DirSource } from './source.ts';
import type { ModelSpec } from './spec.ts';
import type { WeightSource } from './weights.ts';

export interface OpenPackageOptions {
  /** check the sha256 of every tensor and blob read (default true) */
  verify?: boolean;
}

export class WebMoePackage implements PackedModel {
  private readonly files = new Map<string, Promise<ByteSource>>();
  private readonly denseByName: Map<string, DenseEntry>;
  private readonly fileByPath: Map<string, FileEntry>;
  private readonly expertAt: (layer: number, expert: number) => ExpertEntry;

  private constructor(
    readonly dir: DirSource,
    readonly manifest: Manifest,
    private readonly verify: boolean,
  ) {
    this.denseByName = new Map(manifest.dense.map((t) => [t.name, t]));
    this.fileByPath = new Map(manifest.files.map((f) => [f.path, f]));
    this.expertAt = expertIndex(manifest);
  }

  /** Read and validate manifest.json, then check that every dense shard has its full size. */
  static async open(dir: DirSource, opts: OpenPackageOptions = {}): Promise<WebMoePackage> {
    const where = `${dir.name}/${MANIFEST_FILE}`;
    const text = await dir.readText(MANIFEST_FILE);
    if (text === null) throw new ManifestError(where, 'not found: a WebMoE package directory has a manifest.json');
    const pkg = new WebMoePackage(dir, parseManifest(text, where), opts.verify ?? true);
    for (const shard of new Set(pkg.manifest.dense.map((t) => t.file))) await pkg.file(shard);
    return pkg;
  }

  get spec(): ModelSpec {
    return this.manifest.spec;
  }

  get expertLayout(): ExpertLayout {
    return this.manifest.expert_layout;
  }

  denseNames(): string[] {
    return [...this.denseByName.keys()];
  }

  /** Opened file with its size checked against the manifest (cached per path). */
  private file(path: string): Promise<ByteSource> {
    let p = this.files.get(path);
    if (!p) {
      p = this.openChecked(path);
      this.files.set(path, p);
      p.catch(() => this.files.delete(path));
    }
    return p;
  }

  private async openChecked(path: string): Promise<ByteSource> {
    const entry = this.fileByPath.get(path);
    const name = `${this.dir.name}/${path}`;
    let src: ByteSource;
    try {
      src = await this.dir.open(path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT' || code === 'NotFoundError') throw new CheckpointError(name, 'is missing from the package: download or convert it again');
      throw e;
    }
    if (entry && src.size !== entry.bytes)
      throw new CheckpointError(
        name,
        `is ${src.size} bytes but the manifest records ${entry.bytes} (${src.size < entry.bytes ? 'truncated download?' : 'file replaced?'}); download or convert the package again`,
      );
    return src;
  }

  private async checked(file: string, bytes: Uint8Array, sha256: string): Promise<Uint8Array> {
    if (this.verify) {
      const got = await sha256Hex(bytes);
      if (got !== sha256) throw new IntegrityError(`${this.dir.name}/${file}`, sha256, got);
    }
    return bytes;
  }

  async dense(name: string): Promise<PackedTensor> {
    const t = this.denseByName.get(name);
    if (!t) throw new RangeError(`package ${this.dir.name} has no dense tensor "${name}"`);
    const src = await this.file(t.file);
    const data = await this.checked(t.file, await src.read(t.offset, t.bytes), t.sha256);
    return { quant: t.quant, shape: t.shape, data };
  }

  async expertBlob(layer: number, expert: number): Promise<Uint8Array> {
    const x = this.expertAt(layer, expert);
    const src = await this.openChecked(x.file); // not cached: thousands of blobs, each read once per miss
    return this.checked(x.file, await src.read(0, x.bytes), x.sha256);
  }

  /** Dequantized canonical weights (the CPU reference runs packages through this). */
  weights(): WeightSource {
    return packedWeights(this);
  }

  /** Read every file listed in the manifest and check its size and sha256. */
  async verifyAll(onFile?: (path: string, done: number, total: number) => void): Promise<void> {
    const all = this.manifest.files;
    for (let i = 0; i < all.length; i++) {
      const f = all[i];
      const src = await this.openChecked(f.path);
      await this.checked(f.path, await src.read(0, f.bytes), f.sha256);
      onFile?.(f.path, i + 1, all.length);
    }
  }
}

export function openPackage(dir: DirSource, opts?: OpenPackageOptions): Promise<WebMoePackage> {
  return WebMoePackage.open(dir, opts);
}
