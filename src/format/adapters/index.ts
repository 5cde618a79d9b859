// Adapter registry: one adapter per HF `model_type`, each turning config.json into a ModelSpec.

import { UnsupportedModelError } from '../errors.ts';
import type { ModelSpec } from '../spec.ts';
import type { ConfigReader, HfConfig } from './common.ts';
import { gptOss } from './gpt_oss.ts';
import { minimax } from './minimax.ts';
import { minimaxM2 } from './minimax_m2.ts';
import { mixtral } from './mixtral.ts';
import { olmoe } from './olmoe.ts';
import { qwen3Moe } from './qwen3_moe.ts';

export interface Adapter {
  /** HF model_type values this adapter reads */
  modelTypes: string[];
  toSpec(r: ConfigReader): ModelSpec;
  /** checkpoint quirks fixed once at load time */
  quirks: { fusedGateUpInterleaved: boolean };
}

export const ADAPTERS: Adapter[] = [minimaxM2, gptOss, minimax, qwen3Moe, mixtral, olmoe];

export function adapterFor(config: HfConfig, file: string): Adapter {
  const mt = config.model_type;
  const a = ADAPTERS.find((x) => x.modelTypes.includes(String(mt)));
  if (!a)
    throw new UnsupportedModelError(
      `${file}: model_type ${JSON.stringify(mt)} is not supported. Supported: ${ADAPTERS.flatMap((x) => x.modelTypes).join(', ')}.`,
    );
  return a;
}
