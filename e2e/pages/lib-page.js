// A page of "another app" using the built library as a consumer would: only dist/lib/*.js,
// served as static files by e2e/lib.spec.ts. Plain JavaScript: nothing here is transpiled.

import { createEngine, createWorkerEngine, InvalidRequestError } from '/lib/index.js';

async function settle(p) {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    return { ok: false, error: { name: e.name, message: e.message, param: e.param, isInstance: e instanceof InvalidRequestError } };
  }
}

async function chatAll(engine, modelUrl, request, backend) {
  const phases = [];
  await engine.reload(modelUrl, { backend, initProgressCallback: (r) => phases.push(r.phase) });
  const whole = await engine.chat.completions.create({ ...request, stream: false });
  let streamed = '';
  for await (const chunk of await engine.chat.completions.create({ ...request, stream: true })) streamed += chunk.choices[0]?.delta.content ?? '';
  const bad = await settle(engine.chat.completions.create({ ...request, temperature: 3 }));
  const stats = await engine.runtimeStatsText();
  const { backend: ran } = await engine.getStats();
  await engine.unload();
  return { phases: [...new Set(phases)], content: whole.choices[0].message.content, finish: whole.choices[0].finish_reason, streamed, bad, stats, backend: ran };
}

window.libTest = {
  /** the engine in the library's ready-made worker */
  worker: (modelUrl, request, backend) => settle(chatAll(createWorkerEngine(new Worker('/lib/worker.js', { type: 'module' })), modelUrl, request, backend)),
  /** the engine on the page's own thread */
  inPage: (modelUrl, request, backend) => settle(chatAll(createEngine(), modelUrl, request, backend)),
};
document.title = 'lib-ready';
