// ShardStore on the Node file system: a root directory holding one package directory per model,
//   <root>/<modelId percent-encoded>/manifest.json, dense-00000.bin, experts/L0-E0.bin, ...
//   <root>/<modelId>/.webmoe/records.jsonl   completion records, one JSON line per put/delete
//   <root>/<modelId>/.webmoe/model.json      ModelRecord
// A file is written to a temporary name and renamed into place, so a file under its final name is
// always whole; its record (with the sha256 verified before the write) is appended after the
// rename. A package converted in place by `webmoe convert` has files but no records: they count as
// complete, with an unknown sha256 (readers then check against the manifest).

import { appendFile, mkdir, readFile, readdir, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StorageFullError, StoreFileMissingError } from './errors.ts';
import { readFileRange } from './node-dir.ts';
import { checkModelId, checkPath, type FileRecord, type ModelRecord, type ShardStore, type SpaceEstimate } from './types.ts';

const META_DIR = '.webmoe';
const RECORDS = 'records.jsonl';
const MODEL = 'model.json';

type LogLine = { op: 'put'; path: string; bytes: number; sha256?: string } | { op: 'del'; path: string };

const isNoEnt = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

export class NodeShardStore implements ShardStore {
  readonly name: string;
  /** per model: path -> record from records.jsonl (loaded once) */
  private readonly logs = new Map<string, Promise<Map<string, FileRecord>>>();
  /** per model: serializes appends to records.jsonl */
  private readonly appends = new Map<string, Promise<void>>();

  constructor(readonly root: string) {
    this.name = root;
  }

  /** A store over the parent of a package directory, and the model id that names the package. */
  static forPackageDir(dir: string): { store: NodeShardStore; modelId: string } {
    const modelId = checkModelId(basename(dir));
    if (encodeURIComponent(modelId) !== modelId) throw new RangeError(`package directory name "${modelId}" is not a plain model id`);
    return { store: new NodeShardStore(dirname(dir)), modelId };
  }

  private dir(modelId: string): string {
    return join(this.root, encodeURIComponent(checkModelId(modelId)));
  }

  private file(modelId: string, path: string): string {
    return join(this.dir(modelId), ...checkPath(path).split('/'));
  }

  private log(modelId: string): Promise<Map<string, FileRecord>> {
    let p = this.logs.get(modelId);
    if (!p) {
      p = this.loadLog(modelId);
      this.logs.set(modelId, p);
      p.catch(() => this.logs.delete(modelId));
    }
    return p;
  }

  private async loadLog(modelId: string): Promise<Map<string, FileRecord>> {
    const map = new Map<string, FileRecord>();
    let text = '';
    try {
      text = await readFile(join(this.dir(modelId), META_DIR, RECORDS), 'utf8');
    } catch (e) {
      if (!isNoEnt(e)) throw e;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let l: LogLine;
      try {
        l = JSON.parse(line);
      } catch {
        continue; // a line cut short by a crash: its file is re-verified against the manifest
      }
      if (l.op === 'put') map.set(l.path, { path: l.path, bytes: l.bytes, ...(l.sha256 ? { sha256: l.sha256 } : {}) });
      else map.delete(l.path);
    }
    return map;
  }

  private async append(modelId: string, line: LogLine): Promise<void> {
    const prev = this.appends.get(modelId) ?? Promise.resolve();
    const next = prev.then(async () => {
      await mkdir(join(this.dir(modelId), META_DIR), { recursive: true });
      await appendFile(join(this.dir(modelId), META_DIR, RECORDS), JSON.stringify(line) + '\n');
    });
    this.appends.set(modelId, next.catch(() => {}));
    await next;
  }

  async get(modelId: string, path: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.file(modelId, path)));
    } catch (e) {
      if (isNoEnt(e)) return null;
      throw e;
    }
  }

  async getMany(modelId: string, paths: string[]): Promise<(Uint8Array | null)[]> {
    return Promise.all(paths.map((p) => this.get(modelId, p)));
  }

  async read(modelId: string, path: string, offset: number, length: number): Promise<Uint8Array> {
    try {
      return await readFileRange(this.file(modelId, path), offset, length);
    } catch (e) {
      if (isNoEnt(e)) throw new StoreFileMissingError(this.name, modelId, path);
      throw e;
    }
  }

  async put(modelId: string, path: string, bytes: Uint8Array, sha256?: string): Promise<void> {
    const dest = this.file(modelId, path);
    const tmp = `${dest}.part-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(tmp, bytes);
      await rename(tmp, dest);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new StorageFullError(modelId, path, bytes.byteLength);
      throw e;
    }
    const rec: FileRecord = { path, bytes: bytes.byteLength, ...(sha256 ? { sha256 } : {}) };
    (await this.log(modelId)).set(path, rec);
    await this.append(modelId, { op: 'put', ...rec });
  }

  async stat(modelId: string, path: string): Promise<FileRecord | null> {
    let size: number;
    try {
      const s = await stat(this.file(modelId, path));
      if (!s.isFile()) return null;
      size = s.size;
    } catch (e) {
      if (isNoEnt(e)) return null;
      throw e;
    }
    const rec = (await this.log(modelId)).get(path);
    // A record whose size disagrees with the file (replaced behind our back) loses its hash.
    return rec && rec.bytes === size ? rec : { path, bytes: size };
  }

  async has(modelId: string, path: string): Promise<boolean> {
    return (await this.stat(modelId, path)) !== null;
  }

  async files(modelId: string): Promise<FileRecord[]> {
    const out: FileRecord[] = [];
    const walk = async (rel: string) => {
      let entries;
      try {
        entries = await readdir(rel ? join(this.dir(modelId), ...rel.split('/')) : this.dir(modelId), { withFileTypes: true });
      } catch (e) {
        if (isNoEnt(e)) return;
        throw e;
      }
      for (const d of entries) {
        const p = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (p !== META_DIR) await walk(p);
        } else if (d.isFile() && !d.name.includes('.part-')) {
          const r = await this.stat(modelId, p);
          if (r) out.push(r);
        }
      }
    };
    await walk('');
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async deleteFile(modelId: string, path: string): Promise<void> {
    (await this.log(modelId)).delete(path);
    await this.append(modelId, { op: 'del', path });
    await rm(this.file(modelId, path), { force: true });
  }

  async deleteModel(modelId: string): Promise<void> {
    await rm(this.dir(modelId), { recursive: true, force: true });
    this.logs.delete(modelId);
  }

  async models(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (e) {
      if (isNoEnt(e)) return [];
      throw e;
    }
    return entries
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => decodeURIComponent(d.name))
      .sort();
  }

  async modelRecord(modelId: string): Promise<ModelRecord | null> {
    try {
      return JSON.parse(await readFile(join(this.dir(modelId), META_DIR, MODEL), 'utf8')) as ModelRecord;
    } catch (e) {
      if (isNoEnt(e) || e instanceof SyntaxError) return null;
      throw e;
    }
  }

  async setModelRecord(record: ModelRecord): Promise<void> {
    const d = join(this.dir(record.modelId), META_DIR);
    await mkdir(d, { recursive: true });
    const tmp = join(d, `${MODEL}.part-${process.pid}`);
    await writeFile(tmp, JSON.stringify(record));
    await rename(tmp, join(d, MODEL));
  }

  async estimate(): Promise<SpaceEstimate | null> {
    let dir = this.root;
    for (;;) {
      try {
        const s = await statfs(dir);
        return { free: Number(s.bavail) * Number(s.bsize) };
      } catch (e) {
        if (!isNoEnt(e) || dirname(dir) === dir) return null;
        dir = dirname(dir); // the root may not exist yet
      }
    }
  }
}
