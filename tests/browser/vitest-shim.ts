// A tiny stand-in for `vitest` in the kernel test page: the kernel test files import
// `{ describe, it }` from 'vitest'; the page's Vite server aliases that module here, so the same
// files run in headless Chromium. Tests are collected on import and run by runner.ts.
// (Assertions are the framework-free helpers of src/kernels/testing/harness.ts.)

export interface CollectedTest {
  name: string;
  fn: () => unknown | Promise<unknown>;
}

export const collected: CollectedTest[] = [];
const prefix: string[] = [];

export function describe(name: string, fn: () => void): void {
  prefix.push(name);
  try {
    fn();
  } finally {
    prefix.pop();
  }
}

export function it(name: string, fn: () => unknown | Promise<unknown>): void {
  collected.push({ name: [...prefix, name].join(' > '), fn });
}
it.skip = (_name: string, _fn: () => unknown): void => {};
describe.skip = (_name: string, _fn: () => void): void => {};

export const test = it;
