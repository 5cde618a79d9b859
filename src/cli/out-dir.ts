// Writing a whole output directory (a package) so that a failure or Ctrl-C leaves nothing half
// written: refuse a non-empty OUT without --force, write into a temp dir beside it, then swap it in.

import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { UsageError } from './args.ts';

/** Is `child` the directory `parent` or somewhere under it? (Both resolved paths.) */
export function isInside(child: string, parent: string): boolean {
  const r = relative(parent, child);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/** Throw a UsageError unless `outDir` is absent, an empty directory, or `force` is set. */
export function checkOutDir(outDir: string, force: boolean, label = 'OUT_DIR'): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new UsageError(`${label} ${outDir} exists and is not a directory`);
  if (readdirSync(outDir).length > 0 && !force) throw new UsageError(`${label} ${outDir} is not empty; pass --force to replace it`);
}

/** Run `write(tmp)` into a fresh temp dir next to `outDir`, then replace `outDir` with it. */
export async function writeDirAtomically<T>(outDir: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const onSignal = () => {
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const out = await write(tmp);
    if (existsSync(outDir)) {
      const old = join(dirname(outDir), `.${basename(outDir)}.old-${process.pid}`);
      await rename(outDir, old);
      await rename(tmp, outDir);
      await rm(old, { recursive: true, force: true });
    } else {
      await mkdir(dirname(outDir), { recursive: true });
      await rename(tmp, outDir);
    }
    return out;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
