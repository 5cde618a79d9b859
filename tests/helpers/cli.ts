// Run the real `webmoe` CLI (bin/webmoe.mjs) in a child process, as users do.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'webmoe.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Never throws on a non-zero exit: the code, stdout and stderr are the contract under test. */
export async function webmoe(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
