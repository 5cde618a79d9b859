// Access to the committed HF fixtures (tests/fixtures/<name>/): tiny random checkpoints with HF
// transformers' own logits and greedy continuations, made by tools/make_fixtures.py.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES_DIR = join(import.meta.dirname, '..', 'fixtures');

export interface Expected {
  family: string;
  layout: string;
  tokens: number[];
  logits: number[][];
  greedy_prompt: number[];
  greedy: number[];
}

/** Names of the HF checkpoint fixtures (folders with config.json + expected.json). */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(FIXTURES_DIR, d.name, 'expected.json')) && existsSync(join(FIXTURES_DIR, d.name, 'config.json')))
    .map((d) => d.name)
    .sort();
}

export function fixtureDir(name: string): string {
  return join(FIXTURES_DIR, name);
}

export function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, name, 'expected.json'), 'utf8'));
}

/** max |a - b| / max |b| over two (T, V) arrays. */
export function relError(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let d = 0;
  let m = 0;
  for (let t = 0; t < b.length; t++)
    for (let j = 0; j < b[t].length; j++) {
      d = Math.max(d, Math.abs(a[t][j] - b[t][j]));
      m = Math.max(m, Math.abs(b[t][j]));
    }
  return d / m;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
