import { describe, expect, it } from 'vitest';
import { StopStringMatcher, findFirst, partialSuffixLength } from './stop.ts';

function run(stops: string[], pieces: string[]): { out: string[]; stop: string | null; tail: string } {
  const m = new StopStringMatcher(stops);
  const out: string[] = [];
  for (const p of pieces) out.push(m.push(p).text);
  return { out, stop: m.matched, tail: m.flush() };
}

describe('stop strings', () => {
  it('partialSuffixLength finds the longest tail that may grow into a marker', () => {
    expect(partialSuffixLength('abc</th', ['</think>'])).toBe(4);
    expect(partialSuffixLength('abc<', ['</think>', '<x>'])).toBe(1);
    expect(partialSuffixLength('abc', ['</think>'])).toBe(0);
    // a complete marker is not a *proper* prefix
    expect(partialSuffixLength('ab', ['ab'])).toBe(0);
    expect(partialSuffixLength('xa', ['ab'])).toBe(1);
    expect(findFirst('xx STOP yy END', ['END', 'STOP'])).toEqual({ index: 3, marker: 'STOP' });
  });

  it('matches across pieces and never emits the stop string', () => {
    const r = run(['\n\nUser:'], ['Hi', ' there', '\n', '\nUs', 'er', ': more']);
    expect(r.out.join('')).toBe('Hi there');
    expect(r.stop).toBe('\n\nUser:');
    expect(r.out[2]).toBe(''); // held: might start the stop string
    expect(r.tail).toBe('');
  });

  it('releases held text once it cannot be a stop string', () => {
    const r = run(['STOP'], ['a S', 'T', 'x', 'b']);
    expect(r.out).toEqual(['a ', '', 'STx', 'b']);
    expect(r.stop).toBeNull();
  });

  it('earliest of several stops wins; text after the match is dropped', () => {
    const r = run(['cd', 'bcd'], ['abcdef']);
    expect(r.out).toEqual(['a']);
    expect(r.stop).toBe('bcd');
  });

  it('flush gives back a held prefix when the stream ends', () => {
    const r = run(['END'], ['the EN']);
    expect(r.out).toEqual(['the ']);
    expect(r.tail).toBe('EN');
  });

  it('no stops: pass-through', () => {
    expect(run([], ['a', 'b']).out).toEqual(['a', 'b']);
  });
});
