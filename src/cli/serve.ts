// webmoe serve --model DIR [--port 8000] [--host 127.0.0.1] [--backend auto|cpu|webgpu]
//   [--expert-budget BYTES|FRACTION|N%] [--context N] [--api-key KEY] [--max-queue N]
//   [--max-body BYTES] [--cors ORIGIN[,ORIGIN...]|*] [--shutdown-grace SECONDS] [--quiet]
//
// An OpenAI-compatible HTTP server on the engine (src/serve/server.ts). It listens at once
// (requests get 503 while the model loads), then prints on stdout one JSON line
// {"url", "baseUrl", "model", "backend"} when ready; everything else goes to stderr. The API key
// may come from WEBMOE_API_KEY instead of --api-key (which other users of the machine can see in
// the process list). SIGINT/SIGTERM: stop accepting, finish or interrupt the reply in flight,
// exit 0; a second signal exits at once.

import { createNodeEngine } from '../api/node.ts';
import { parseCors } from '../serve/http.ts';
import { WebMoeServer } from '../serve/server.ts';
import { UsageError, bool, int, num, parseArgs, str } from './args.ts';
import { checkModelDir, engineBackendOf } from './load.ts';

const FLAGS = new Set(['model', 'port', 'host', 'backend', 'expert-budget', 'context', 'api-key', 'max-queue', 'max-body', 'cors', 'shutdown-grace', 'quiet']);

/** "123456789" bytes, "0.25" of all expert bytes, "25%": what the GPU runner's parseBudget takes, as a number. */
function budgetOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
  const n = pct ? Number(pct[1]) / 100 : Number(s);
  if (!Number.isFinite(n) || n <= 0 || (pct && n > 1)) throw new UsageError(`--expert-budget must be bytes, a fraction in (0, 1] or a percentage like 25%, got "${s}"`);
  return n;
}

function positiveInt(name: string, v: number | undefined, min: number): number | undefined {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new UsageError(`--${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['quiet']);
  for (const k of a.flags.keys()) if (!FLAGS.has(k)) throw new UsageError(`unknown option --${k} (see webmoe --help)`);
  if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"; the model goes after --model`);
  const dir = str(a, 'model', true);
  checkModelDir(dir);
  const backend = engineBackendOf(str(a, 'backend'));
  const expertBudget = budgetOf(str(a, 'expert-budget'));
  const port = positiveInt('port', int(a, 'port', 8000), 0)!;
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const host = str(a, 'host') ?? '127.0.0.1';
  const apiKey = str(a, 'api-key') ?? process.env.WEBMOE_API_KEY ?? null;
  if (apiKey !== null && apiKey.trim() === '') throw new UsageError('--api-key (or WEBMOE_API_KEY) is empty');
  let cors;
  try {
    cors = parseCors(str(a, 'cors'));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const quiet = bool(a, 'quiet');
  const say = (line: string) => process.stderr.write(`webmoe serve: ${line}\n`);

  const engine = createNodeEngine({ backend });
  const server = new WebMoeServer(engine, {
    host,
    port,
    apiKey,
    cors,
    maxQueue: positiveInt('max-queue', int(a, 'max-queue'), 0),
    maxBodyBytes: positiveInt('max-body', int(a, 'max-body'), 1),
    graceMs: Math.round((num(a, 'shutdown-grace') ?? 10) * 1000),
    log: quiet ? undefined : say,
  });
  const url = await server.listen();
  say(`listening on ${url} (OpenAI base URL ${url}/v1); loading ${dir} ...`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host) && !apiKey)
    say(`WARNING: bound to ${host} without --api-key: anyone who can reach this machine can use the model.`);

  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        say(`${sig} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      say(`${sig}: shutting down (no new requests; the reply in flight finishes or is interrupted) ...`);
      void server
        .shutdown()
        .then(() => engine.unload())
        .finally(() => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          say('stopped');
          resolve();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    await engine.reload(dir, {
      ...(expertBudget !== undefined ? { expertBudgetBytes: expertBudget } : {}),
      ...(int(a, 'context') !== undefined ? { context_window_size: int(a, 'context') } : {}),
      initProgressCallback: (r) => {
        if (r.phase === 'ready') say(r.text);
      },
    });
  } catch (e) {
    server.setFailed((e as Error).message);
    await server.shutdown();
    throw e;
  }
  if (stopping) {
    await stopped;
    return 0;
  }
  server.setReady();
  const stats = await engine.getStats();
  if (expertBudget !== undefined && stats.backend !== 'webgpu') say(`note: --expert-budget applies to the WebGPU backend only; this model runs on ${stats.backend}`);
  say(`ready: ${engine.modelId} on ${stats.backend} at ${url}/v1`);
  process.stdout.write(JSON.stringify({ url, baseUrl: `${url}/v1`, model: engine.modelId, backend: stats.backend }) + '\n');
  await stopped;
  return 0;
}
