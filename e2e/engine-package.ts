// The package the engine e2e specs load: the minimax_m2 HF fixture plus a byte-level tokenizer
// (256 ids, as the fixture's vocabulary) and a plain chat template, converted with the real CLI
// (`webmoe convert`) into .cache/e2e-engine/ (git-ignored), which the Vite dev server serves.

import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { byteLevelTokenizerJson } from '../src/generate/testing.ts';

const ROOT = join(import.meta.dirname, '..');
export const ENGINE_DIR = join(ROOT, '.cache', 'e2e-engine');
export const PACKAGE_DIR = join(ENGINE_DIR, 'tiny-m2');
/** the package as the dev server serves it (the folder that holds manifest.json) */
export const PACKAGE_PATH = '/.cache/e2e-engine/tiny-m2/';
export const PACKAGE_ID = 'tiny-m2';

export const CHAT_TEMPLATE =
  "{%- for m in messages -%}{{- m.role ~ ': ' ~ m.content ~ '\\n' -}}{%- endfor -%}{%- if add_generation_prompt -%}{{- 'assistant:' -}}{%- endif -%}";

let made: Promise<string> | null = null;

/** Convert the package once per test process; returns its directory. */
export function enginePackage(): Promise<string> {
  return (made ??= (async () => {
    const hf = join(ENGINE_DIR, 'hf');
    rmSync(hf, { recursive: true, force: true });
    mkdirSync(ENGINE_DIR, { recursive: true });
    cpSync(join(ROOT, 'tests', 'fixtures', 'minimax_m2'), hf, { recursive: true });
    writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson([], [])));
    writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify({ chat_template: CHAT_TEMPLATE }));
    await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'webmoe.mjs'), 'convert', hf, PACKAGE_DIR, '--force']);
    return PACKAGE_DIR;
  })());
}
