// `import text from './file.txt?raw'`: Vite inlines the text; the CLI's loader hooks do too
// (src/gpu/raw-hooks.mjs).
declare module '*.txt?raw' {
  const text: string;
  export default text;
}
