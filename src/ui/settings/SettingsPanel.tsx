// Settings: sampling and the system prompt apply to the next message; expert budget and backend
// to the next model load ("Reload model" applies them now).

import { useId } from 'react';
import { LIMITS, type Backend, type Settings, type Theme } from './settings.ts';

interface Props {
  settings: Settings;
  onChange(patch: Partial<Settings>): void;
  /** load options differ from those the loaded model was loaded with */
  reloadNeeded: boolean;
  onReload(): void;
}

function NumberField({ label, value, limits, onChange, help, testId }: { label: string; value: number; limits: { min: number; max: number; step: number }; onChange(v: number): void; help?: string; testId: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        {limits.max <= 2 ? (
          <input type="range" min={limits.min} max={limits.max} step={limits.step} value={value} aria-hidden="true" tabIndex={-1} onChange={(e) => onChange(Number(e.target.value))} />
        ) : null}
        <input
          id={id}
          type="number"
          data-testid={testId}
          min={limits.min}
          max={limits.max}
          step={limits.step}
          value={value}
          aria-describedby={help ? `${id}-help` : undefined}
          onChange={(e) => e.target.value !== '' && Number.isFinite(Number(e.target.value)) && onChange(Number(e.target.value))}
        />
      </div>
      {help ? (
        <p id={`${id}-help`} className="muted small">
          {help}
        </p>
      ) : null}
    </div>
  );
}

export function SettingsPanel({ settings, onChange, reloadNeeded, onReload }: Props) {
  return (
    <section className="panel-section" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <NumberField label="Temperature" testId="setting-temperature" value={settings.temperature} limits={LIMITS.temperature} onChange={(v) => onChange({ temperature: v })} help="0 = always the most likely token (greedy)." />
      <NumberField label="Top-p" testId="setting-top-p" value={settings.topP} limits={LIMITS.topP} onChange={(v) => onChange({ topP: v })} />
      <NumberField label="Max tokens" testId="setting-max-tokens" value={settings.maxTokens} limits={LIMITS.maxTokens} onChange={(v) => onChange({ maxTokens: Math.round(v) })} />
      <div className="field">
        <label htmlFor="system-prompt">System prompt</label>
        <textarea id="system-prompt" data-testid="setting-system-prompt" rows={3} value={settings.systemPrompt} onChange={(e) => onChange({ systemPrompt: e.target.value })} />
      </div>
      <NumberField
        label="Expert cache budget (MiB)"
        testId="setting-expert-budget"
        value={settings.expertBudgetMiB}
        limits={LIMITS.expertBudgetMiB}
        onChange={(v) => onChange({ expertBudgetMiB: v })}
        help="GPU memory for experts; 0 = as many as fit. Applies when the model is (re)loaded."
      />
      <div className="field">
        <label htmlFor="backend">Backend</label>
        <select id="backend" data-testid="setting-backend" value={settings.backend} onChange={(e) => onChange({ backend: e.target.value as Backend })}>
          <option value="auto">Automatic (WebGPU, else CPU)</option>
          <option value="webgpu">WebGPU</option>
          <option value="cpu">CPU (slow, works everywhere)</option>
        </select>
      </div>
      {reloadNeeded ? (
        <button type="button" className="btn primary" onClick={onReload} data-testid="apply-reload">
          Reload model to apply
        </button>
      ) : null}
      <div className="field">
        <label htmlFor="theme">Theme</label>
        <select id="theme" value={settings.theme} onChange={(e) => onChange({ theme: e.target.value as Theme })}>
          <option value="system">Same as the system</option>
          <option value="light">Light</option>
          <option value="dark">Dark</option>
        </select>
      </div>
      <div className="field checkbox">
        <input id="expand-reasoning" type="checkbox" checked={settings.expandReasoning} onChange={(e) => onChange({ expandReasoning: e.target.checked })} />
        <label htmlFor="expand-reasoning">Show reasoning while the model thinks</label>
      </div>
    </section>
  );
}
