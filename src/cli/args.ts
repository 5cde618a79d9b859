// Minimal flag parser for the CLI: `--name value`, `--flag`, `--name=value`, positionals.

import { WebMoeError } from '../format/errors.ts';

export class UsageError extends WebMoeError {
  constructor(message: string) {
    super('usage', message);
  }
}

export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[], booleanFlags: string[] = []): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(a.slice(2, eq), a.slice(eq + 1));
      continue;
    }
    const name = a.slice(2);
    if (booleanFlags.includes(name)) {
      flags.set(name, true);
      continue;
    }
    // the next argument is the value, unless it is another flag
    if (i + 1 >= argv.length || (argv[i + 1].startsWith('--') && !/^--?\d/.test(argv[i + 1]))) throw new UsageError(`--${name} needs a value`);
    flags.set(name, argv[++i]);
  }
  return { positional, flags };
}

export function str(a: Args, name: string): string | undefined;
export function str(a: Args, name: string, required: true): string;
export function str(a: Args, name: string, required = false): string | undefined {
  const v = a.flags.get(name);
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function num(a: Args, name: string, fallback?: number): number | undefined {
  const v = str(a, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

export function int(a: Args, name: string, fallback?: number): number | undefined {
  const n = num(a, name, fallback);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got ${n}`);
  return n;
}

export function bool(a: Args, name: string): boolean {
  return a.flags.get(name) === true;
}

/** Parse "1,2,3" into token ids. */
export function tokenList(s: string, flag = 'tokens'): number[] {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  if (parts.length === 0) throw new UsageError(`--${flag} must be a comma-separated list of token ids`);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag}: "${p}" is not a token id (a non-negative integer)`);
    return n;
  });
}
