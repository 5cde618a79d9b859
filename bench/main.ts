// Benchmark dispatcher: `npm run bench -- <name> [options]`. Each benchmark module exports
// `run(argv): Promise<number>` (exit code) and `usage` (one line).

const BENCHES: Record<string, () => Promise<{ run(argv: string[]): Promise<number>; usage: string }>> = {
  kernels: () => import('./kernels.ts'),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name ? BENCHES[name] : undefined;
  if (!load) {
    const lines = await Promise.all(Object.entries(BENCHES).map(async ([n, l]) => `  ${n.padEnd(10)} ${(await l()).usage}`));
    console.error(`usage: npm run bench -- <name> [options]\n${lines.join('\n')}`);
    return name ? 2 : 0;
  }
  return (await load()).run(rest);
}
