// Stop strings across token boundaries. Text streams in pieces; a stop string may span several of
// them. The matcher holds back the longest tail of the text that could still grow into a stop
// string, releases the rest, and on a match releases only the text before it: the stop string is
// never emitted (OpenAI semantics).

/** Length of the longest suffix of `text` that is a proper prefix of one of `markers`. */
export function partialSuffixLength(text: string, markers: readonly string[]): number {
  let best = 0;
  for (const m of markers) {
    const max = Math.min(m.length - 1, text.length);
    for (let n = max; n > best; n--) {
      if (text.endsWith(m.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

/** Earliest occurrence of any marker: {index, marker} or null. Ties go to the longer marker. */
export function findFirst(text: string, markers: readonly string[], from = 0): { index: number; marker: string } | null {
  let hit: { index: number; marker: string } | null = null;
  for (const m of markers) {
    const i = text.indexOf(m, from);
    if (i < 0) continue;
    if (!hit || i < hit.index || (i === hit.index && m.length > hit.marker.length)) hit = { index: i, marker: m };
  }
  return hit;
}

export interface StopResult {
  /** text safe to emit now */
  text: string;
  /** the stop string that matched, or null */
  stop: string | null;
}

export class StopStringMatcher {
  private held = '';
  private stopped: string | null = null;
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  get matched(): string | null {
    return this.stopped;
  }

  /** Feed new text; returns what can be emitted. After a match, everything is swallowed. */
  push(delta: string): StopResult {
    if (this.stopped !== null) return { text: '', stop: this.stopped };
    if (this.stops.length === 0) return { text: delta, stop: null };
    const buf = this.held + delta;
    const hit = findFirst(buf, this.stops);
    if (hit) {
      this.held = '';
      this.stopped = hit.marker;
      return { text: buf.slice(0, hit.index), stop: hit.marker };
    }
    const keep = partialSuffixLength(buf, this.stops);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stop: null };
  }

  /** End of stream without a match: the held tail was not a stop string after all. */
  flush(): string {
    const out = this.stopped === null ? this.held : '';
    this.held = '';
    return out;
  }
}
