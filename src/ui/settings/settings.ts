// User settings: sampling (sent with every request), the system prompt, and load options (expert
// budget, backend) that apply at the next model load. Kept in IndexedDB (persist.ts).

export type Theme = 'system' | 'light' | 'dark';
export type Backend = 'auto' | 'webgpu' | 'cpu';

export interface Settings {
  temperature: number;
  topP: number;
  maxTokens: number;
  systemPrompt: string;
  /** GPU expert cache budget in MiB (fractions allowed); 0 = the engine's default (everything that fits) */
  expertBudgetMiB: number;
  backend: Backend;
  theme: Theme;
  /** show the model's reasoning expanded while it streams */
  expandReasoning: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  temperature: 0.7,
  topP: 0.95,
  maxTokens: 256,
  systemPrompt: '',
  expertBudgetMiB: 0,
  backend: 'auto',
  theme: 'system',
  expandReasoning: false,
};

export const LIMITS = {
  temperature: { min: 0, max: 2, step: 0.05 },
  topP: { min: 0.05, max: 1, step: 0.05 },
  maxTokens: { min: 1, max: 8192, step: 1 },
  expertBudgetMiB: { min: 0, max: 1 << 20, step: 0.001 },
} as const;

/** The expert budget setting in bytes, as the engine takes it (0 = no budget: everything that fits). */
export function expertBudgetBytes(mib: number): number {
  return mib > 0 ? Math.max(1, Math.round(mib * 1024 * 1024)) : 0;
}

function clamp(x: unknown, lo: number, hi: number, fallback: number): number {
  const n = typeof x === 'number' ? x : Number(x);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
}

/** Settings from storage or from URL parameters: unknown fields dropped, numbers clamped. */
export function sanitizeSettings(raw: Partial<Record<keyof Settings, unknown>> | undefined, base: Settings = DEFAULT_SETTINGS): Settings {
  const r = raw ?? {};
  const pick = <K extends keyof Settings>(k: K, ok: readonly Settings[K][]): Settings[K] => (ok.includes(r[k] as Settings[K]) ? (r[k] as Settings[K]) : base[k]);
  return {
    temperature: clamp(r.temperature ?? base.temperature, LIMITS.temperature.min, LIMITS.temperature.max, base.temperature),
    topP: clamp(r.topP ?? base.topP, LIMITS.topP.min, LIMITS.topP.max, base.topP),
    maxTokens: Math.round(clamp(r.maxTokens ?? base.maxTokens, LIMITS.maxTokens.min, LIMITS.maxTokens.max, base.maxTokens)),
    systemPrompt: typeof r.systemPrompt === 'string' ? r.systemPrompt : base.systemPrompt,
    expertBudgetMiB: clamp(r.expertBudgetMiB ?? base.expertBudgetMiB, LIMITS.expertBudgetMiB.min, LIMITS.expertBudgetMiB.max, base.expertBudgetMiB),
    backend: pick('backend', ['auto', 'webgpu', 'cpu']),
    theme: pick('theme', ['system', 'light', 'dark']),
    expandReasoning: typeof r.expandReasoning === 'boolean' ? r.expandReasoning : base.expandReasoning,
  };
}

/** URL overrides (?temperature=0&max_tokens=16&backend=cpu): for links and tests. */
export function settingsFromQuery(q: URLSearchParams): Partial<Record<keyof Settings, unknown>> {
  const out: Partial<Record<keyof Settings, unknown>> = {};
  const num = (name: string, key: keyof Settings) => {
    const v = q.get(name);
    if (v !== null && v.trim() !== '' && Number.isFinite(Number(v))) out[key] = Number(v);
  };
  num('temperature', 'temperature');
  num('top_p', 'topP');
  num('max_tokens', 'maxTokens');
  num('expert_budget_mib', 'expertBudgetMiB');
  const backend = q.get('backend');
  if (backend) out.backend = backend;
  const system = q.get('system');
  if (system !== null) out.systemPrompt = system;
  return out;
}
