// `import code from './kernel.wgsl?raw'`: Vite (and vitest) inline the text; in plain Node the
// loader hooks in src/gpu/raw-hooks.mjs do the same.
declare module '*.wgsl?raw' {
  const code: string;
  export default code;
}
