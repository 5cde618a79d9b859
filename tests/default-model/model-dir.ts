// Where the embedded default model's HF directory lives (written by tools/train/train.py).

import { join } from 'node:path';

export const DEFAULT_MODEL_DIR = join(import.meta.dirname, '..', '..', 'tools', 'train', 'out', 'stories-moe-10m');
