// The built-in calibration text for pruning in the app ("prune to fit"): a few paragraphs of
// simple, original English stories (~2 KB), written for this project. Models whose domain is not
// simple English prune better with their own calibration text (`webmoe prune --calibration`).

import text from './calibration.txt?raw';

export const CALIBRATION_TEXT: string = text;
