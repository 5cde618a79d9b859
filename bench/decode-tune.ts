// Decode geometry chosen end to end: the kernel sweep times each product alone, but a decode step
// chains ~7 small products per layer whose launch, tail and cache effects the isolated timings
// miss (two runs whose sweeps picked different geometries decoded gpt-oss at 234 and 262 tok/s).
// Here each geometry slot the model's decode uses (the dense kind's small and large products, the
// expert kind's products and its fused down + combine, the minimum group count) is tried in turn
// with real greedy decode steps, keeping the fastest — coordinate descent, autotuner style.
// A candidate whose greedy tokens differ from the starting geometry's is rejected as wrong.

import type { QuantKind } from '../src/format/quant-layout.ts';
import { matvecTuning, type FastGeometry } from '../src/kernels/matvec/matvec.ts';
import type { GpuRunner } from '../src/model/gpu-runner.ts';
import { routeTuning } from '../src/kernels/router/router.ts';

type Slot = { name: string; get: () => unknown; set: (v: unknown) => void; candidates: unknown[] };

const wide = (wg: number, rpt: number, pf: number, dq = 0, kx = 0): FastGeometry => ({ wg, rpt, unr: 1, dq, pf, kx, design: 'wide' });
// down_sum: a team per expert (wg ignored); gate_up: gate and up rows in one unit loop
const kt = (rpt: number, dq: number, tpr = 32): FastGeometry => ({ wg: 256, rpt, unr: 1, dq, pf: 1, design: 'wide', kt: 1, tpr });
const gu = (wg: number, rpt: number, dq: number, tpr = 32): FastGeometry => ({ wg, rpt, unr: 1, dq, pf: 1, design: 'wide', gu: 1, tpr });
const unit = (wg: number, rpt: number, unr: number, dq = 0): FastGeometry => ({ wg, rpt, unr, dq, design: 'unit' });
const sx = (wg: number, rpt: number, dq = 0): FastGeometry => ({ wg, rpt, unr: 1, dq, design: 'sx' });

/** `experts`: the slot holds the experts' gate_up (gu candidates too); `downSum`: their down + combine. */
function geometries(kind: QuantKind, downSum: boolean, experts = downSum): FastGeometry[] {
  const dqs = kind === 'mxfp4' ? [2, 1, 0] : kind === 'q4' ? [0, 1] : [0]; // the likelier first (a slot's time may run out)
  const out: FastGeometry[] = [];
  for (const dq of dqs) {
    if (downSum) out.push(kt(4, dq), kt(8, dq), kt(4, dq, 16), kt(8, dq, 16), kt(8, dq, 8));
    else if (experts) out.push(gu(64, 8, dq), gu(128, 8, dq), gu(64, 4, dq), gu(64, 8, dq, 16), gu(64, 4, dq, 16));
    for (const [wg, rpt] of [[64, 2], [64, 4], [128, 2], [128, 4], [256, 4], [256, 8]]) out.push(wide(wg, rpt, 1, dq, downSum ? 1 : 0));
    out.push(wide(64, 2, 0, dq), unit(128, 2, 2, dq), unit(256, 4, 2, dq));
    if (!downSum) out.push(sx(256, 4, dq), sx(128, 2, dq));
  }
  return out;
}

export interface DecodeTuneResult {
  start_tok_s: number;
  tok_s: number;
  tried: { slot: string; geometry: string; tok_s: number | null }[];
  chosen: Record<string, unknown>;
}

/**
 * Tune matvecTuning for `r`'s decode in place. `kinds`: the dense and expert weight kinds;
 * `large`: whether a product exceeds matvecTuning.smallBytes (the LM head).
 */
export async function tuneDecode(r: GpuRunner, prompt: number[], kinds: { dense: QuantKind; expert: QuantKind }, log: (s: string) => void, deadline: number): Promise<DecodeTuneResult> {
  const t = matvecTuning;
  const slot = (name: string, rec: Record<string, FastGeometry | undefined>, kind: QuantKind, downSum = false, experts = downSum): Slot => ({
    name,
    get: () => rec[kind],
    set: (v) => {
      if (v === undefined) delete rec[kind];
      else rec[kind] = v as FastGeometry;
    },
    candidates: geometries(kind, downSum, experts),
  });
  const slots: Slot[] = [
    slot(`small.${kinds.dense}`, t.small, kinds.dense),
    slot(`byKind.${kinds.dense}`, t.byKind, kinds.dense),
    slot(`small.${kinds.expert}`, t.small, kinds.expert, false, true),
    slot(`downSum.${kinds.expert}`, t.downSum, kinds.expert, true),
    { name: 'minGroups', get: () => t.minGroups, set: (v) => (t.minGroups = v as number), candidates: [132, 264, 528, 1056] },
    { name: 'route.split', get: () => routeTuning.split, set: (v) => (routeTuning.split = v as boolean), candidates: [true, false] },
    { name: 'route.rowWg', get: () => routeTuning.rowWg, set: (v) => (routeTuning.rowWg = v as number), candidates: [64, 128, 256, 512] },
    // the choice inside the experts' gate + up: never, up to 128 experts (the default), always
    { name: 'route.inGateUpMaxE', get: () => routeTuning.inGateUpMaxE, set: (v) => (routeTuning.inGateUpMaxE = v as number), candidates: [0, 128, 1024] },
  ];
  const tokens = 48;
  const run = async (): Promise<{ tok_s: number; ids: number[] }> => {
    let best = 0;
    let ids: number[] = [];
    for (let i = 0; i < 2; i++) {
      r.reset();
      const times: number[] = [];
      ids = await r.generateGreedy(prompt, tokens, { onToken: () => times.push(performance.now()) });
      best = Math.max(best, (1000 * (tokens - 1)) / (times[times.length - 1] - times[0]));
    }
    return { tok_s: best, ids };
  };
  await run(); // pipelines
  const start = await run();
  const same = (ids: number[]) => ids.slice(0, 16).every((v, i) => v === start.ids[i]);
  let bestTok = start.tok_s;
  const tried: DecodeTuneResult['tried'] = [];
  for (const [i, s] of slots.entries()) {
    // each slot a share of the time left by its candidates (a long list must not starve the rest)
    const left = slots.slice(i).reduce((a, x) => a + x.candidates.length, 0);
    const slotEnd = performance.now() + ((deadline - performance.now()) * s.candidates.length) / left;
    const keep = s.get();
    let bestV = keep;
    for (const c of s.candidates) {
      if (performance.now() > slotEnd) break;
      s.set(c);
      let res: { tok_s: number; ids: number[] } | null = null;
      try {
        res = await run();
      } catch (e) {
        log(`    ${s.name} ${JSON.stringify(c)}: ${(e as Error).message}`);
      }
      const ok = !!res && same(res.ids);
      tried.push({ slot: s.name, geometry: JSON.stringify(c), tok_s: ok ? res!.tok_s : null });
      if (ok && res!.tok_s > bestTok * 1.02) [bestTok, bestV] = [res!.tok_s, c];
    }
    s.set(bestV);
    log(`    ${s.name}: ${JSON.stringify(bestV ?? null)} (${bestTok.toFixed(1)} tok/s)`);
  }
  const chosen = Object.fromEntries(slots.map((s) => [s.name, s.get() ?? null]));
  return { start_tok_s: start.tok_s, tok_s: bestTok, tried, chosen };
}
