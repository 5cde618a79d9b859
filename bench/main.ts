// Benchmark dispatcher: `npm run bench [-- <name>] [options]`. With no name (or a first argument
// that is an option) the whole suite runs (bench/suite.ts). Each benchmark module exports
// `run(argv): Promise<number>` (exit code) and `usage` (one line).

const BENCHES: Record<string, () => Promise<{ run(argv: string[]): Promise<number>; usage: string }>> = {
  suite: () => import('./suite.ts'),
  kernels: () => import('./kernels.ts'),
};

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const named = first !== undefined && !first.startsWith('--');
  const name = named ? first : 'suite';
  const load = BENCHES[name] as (typeof BENCHES)[string] | undefined;
  if (!load || first === 'help') {
    const lines = await Promise.all(Object.entries(BENCHES).map(async ([n, l]) => `  ${n.padEnd(10)} ${(await l()).usage}`));
    console.error(`usage: npm run bench -- [<name>] [options]\n${lines.join('\n')}`);
    return load ? 0 : 2;
  }
  return (await load()).run(named ? rest : argv);
}

// Entry point when run as a bundle on the GPU machine (scripts/pack-device.mjs): node main.mjs [...]
const self = typeof process !== 'undefined' && process.argv[1] ? (await import('node:url')).pathToFileURL(process.argv[1]).href : '';
if (import.meta.url === self) process.exitCode = await main(process.argv.slice(2));
