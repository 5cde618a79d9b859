// The "prune to fit" panel: what the model needs against the expert budget, the ratio that fits,
// the sizes before and after, what it costs in quality (measured numbers), the method, and the
// job's progress, result or error.

import { useId } from 'react';
import type { PruneMethod } from '../../prune/saliency.ts';
import { MEASURED, expectedCost, relativeCost } from './cost.ts';
import { OFFER_FACTOR, mib, type PruneOffer as Offer } from './offer.ts';
import type { PruneState } from './usePrune.ts';
import './prune.css';

const PHASE_LABEL = { start: 'Starting', load: 'Loading', calibrate: 'Calibrating', write: 'Writing' } as const;
const METHODS: { value: PruneMethod; label: string; help: string }[] = [
  { value: 'reap', label: 'REAP (recommended)', help: 'removes the experts whose gated outputs are smallest on the calibration text' },
  { value: 'frequency', label: 'Frequency', help: 'removes the experts the calibration text routes to least often (a baseline; worse on the default model)' },
];

function Numbers({ offer }: { offer: Offer }) {
  const est = offer.estimate!;
  const removed = offer.experts - est.expertsPerLayer.after;
  return (
    <dl className="prune-numbers" data-testid="prune-numbers">
      <dt>Remove</dt>
      <dd data-testid="prune-ratio">
        {Math.round(offer.ratio! * 100)}% of the experts: {removed} of {offer.experts} in each of {offer.layers} layers
      </dd>
      <dt>Experts</dt>
      <dd data-testid="prune-experts">
        {est.expertsPerLayer.before} → {est.expertsPerLayer.after} per layer ({offer.layers * est.expertsPerLayer.before} → {offer.layers * est.expertsPerLayer.after} in all; top-{offer.topK} unchanged)
      </dd>
      <dt>Expert memory</dt>
      <dd data-testid="prune-bytes">
        {mib(est.expertBytes.before)} → {mib(est.expertBytes.after)}
      </dd>
      <dt>Package</dt>
      <dd>
        {mib(est.totalBytes.before)} → {mib(est.totalBytes.after)}, stored as a new model (the original stays until you delete it)
      </dd>
    </dl>
  );
}

function Cost({ ratio, method }: { ratio: number; method: PruneMethod }) {
  const [r25, r50] = MEASURED.reap;
  const [f25, f50] = MEASURED.frequency;
  return (
    <div className="prune-cost" data-testid="prune-cost">
      <p>
        <strong>Pruning removes experts; quality drops.</strong> On the default model ({MEASURED.model}, {MEASURED.expertsPerLayer} experts per layer), removing 25% with REAP cost{' '}
        {relativeCost(r25.bpbTrainCalibration)} bits per byte calibrated on 16 KB of its training text, and {relativeCost(r25.bpb)} with the built-in 2 KB text used here; removing 50% cost
        about {relativeCost(r50.bpb)}. Frequency pruning cost {relativeCost(f25.bpb)} and {relativeCost(f50.bpb)}.
      </p>
      <p className="muted small">{expectedCost(ratio, method)} Models with many, unevenly used experts lose less; this one uses its 16 evenly. Measurements: tools/train/RESULTS.md, “Pruning”.</p>
    </div>
  );
}

export function PruneOfferPanel({ prune }: { prune: PruneState }) {
  const { offer, job, method } = prune;
  const methodName = useId();
  if (!offer && !job) return null;
  const running = job?.state === 'running';
  return (
    <section className="prune-offer" data-testid="prune-offer" aria-labelledby="prune-title">
      <h2 id="prune-title">Prune to fit?</h2>
      {offer ? (
        <>
          <p data-testid="prune-need">
            This model&apos;s experts need <strong>{mib(offer.expertBytes)}</strong>; your budget is <strong>{mib(offer.budgetBytes)}</strong>.{' '}
            {offer.ratio ? 'Prune to fit?' : 'Pruning cannot make it fit.'}
          </p>
          <p className="muted small">
            Offered when the experts need more than {OFFER_FACTOR}× the expert cache budget (Settings); below that the cache streams the experts that do not fit, which costs speed, not
            quality.
          </p>
        </>
      ) : null}
      {offer && !offer.ratio ? (
        <p>
          Even with only top-{offer.topK} experts per layer the experts need {mib(offer.minExpertBytes)}. Raise the budget, or choose a smaller model.
        </p>
      ) : null}
      {offer?.ratio ? (
        <>
          <Numbers offer={offer} />
          <Cost ratio={offer.ratio} method={method} />
          <fieldset className="prune-method" disabled={running}>
            <legend>Method</legend>
            {METHODS.map((m) => (
              <label key={m.value}>
                <input type="radio" name={methodName} value={m.value} checked={method === m.value} onChange={() => prune.setMethod(m.value)} data-testid={`prune-method-${m.value}`} />{' '}
                {m.label} <span className="muted small">— {m.help}</span>
              </label>
            ))}
          </fieldset>
          {prune.existing && job?.state !== 'done' ? (
            <p data-testid="prune-existing">
              {prune.existing.id} is already on this device.{' '}
              <button type="button" className="btn small" onClick={() => prune.load(prune.existing!.id)}>
                Load {prune.existing.id}
              </button>
            </p>
          ) : null}
          {!running ? (
            <div className="row">
              <button type="button" className="btn primary" data-testid="prune-button" onClick={prune.start} aria-describedby="prune-title">
                {prune.existing ? 'Prune again' : `Prune to ${offer.estimate!.expertsPerLayer.after} experts per layer`}
              </button>
              {!job ? (
                <button type="button" className="btn" onClick={prune.dismiss}>
                  Not now
                </button>
              ) : null}
            </div>
          ) : null}
        </>
      ) : null}
      {job?.state === 'running' ? (
        <div className="prune-progress" data-testid="prune-progress" data-phase={job.progress.phase} role="group" aria-label={`Pruning ${job.sourceId}`}>
          <div className="row">
            <strong>{PHASE_LABEL[job.progress.phase]}</strong>
            <span>{Math.round(job.progress.fraction * 100)}%</span>
            <button type="button" className="btn small" onClick={prune.cancel} data-testid="prune-cancel">
              Cancel
            </button>
          </div>
          <progress max={100} value={Math.round(job.progress.fraction * 100)} aria-label={`Pruning: ${PHASE_LABEL[job.progress.phase]}, ${Math.round(job.progress.fraction * 100)}%`} />
          <p className="muted small" aria-live="polite">
            {job.progress.text}
          </p>
        </div>
      ) : null}
      {job?.state === 'done' ? (
        <div className="prune-done" data-testid="prune-result" role="status">
          <p>
            Wrote <strong>{job.result.modelId}</strong>: {job.result.expertsPerLayer.after} experts per layer (was {job.result.expertsPerLayer.before}), {mib(job.result.expertBytes.after)} of experts,
            calibrated on {job.result.calibrationTokens} tokens in {job.result.seconds.toFixed(1)} s. It is in the model list under “On this device”.
          </p>
          <button type="button" className="btn primary" data-testid="prune-load" onClick={() => prune.load(job.result.modelId)}>
            Load {job.result.modelId}
          </button>
        </div>
      ) : null}
      {job?.state === 'error' ? (
        <p className="prune-error" role="alert" data-testid="prune-error">
          <strong>Pruning failed.</strong> {job.message}
        </p>
      ) : null}
    </section>
  );
}
