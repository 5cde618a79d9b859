// The CPU reference as a ModelRunner: the fallback backend where WebGPU is missing.

import type { WeightSource } from '../format/weights.ts';
import type { ModelRunner } from '../model/runner.ts';
import { ReferenceModel, type ReferenceState } from './forward.ts';

export class CpuRunner implements ModelRunner {
  readonly backend = 'cpu';
  private state: ReferenceState;

  constructor(
    readonly model: ReferenceModel,
    private readonly maxLen = Math.min(model.spec.max_position_embeddings, 8192),
  ) {
    this.state = model.newState(this.maxLen);
  }

  static async load(src: WeightSource, maxLen?: number): Promise<CpuRunner> {
    return new CpuRunner(await ReferenceModel.load(src), maxLen);
  }

  get spec() {
    return this.model.spec;
  }

  get length() {
    return this.state.length;
  }

  get maxLength() {
    return this.maxLen;
  }

  reset(): void {
    this.state = this.model.newState(this.maxLen);
  }

  async forward(tokens: number[], allLogits = false): Promise<Float32Array[]> {
    const logits = this.model.forward(this.state, tokens);
    return allLogits ? logits : [logits[logits.length - 1]];
  }

  dispose(): void {}
}
