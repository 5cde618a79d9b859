// WebGPU in Node through the `webgpu` package (Dawn). Imported only dynamically (from device.ts
// when `navigator.gpu` is missing), so browser bundles never see the native module.
//
// Vulkan driver: an explicit VK_ICD_FILENAMES / VK_DRIVER_FILES wins (the GPU machine points it at
// the NVIDIA ICD). Otherwise, on a machine without a GPU, Chromium's SwiftShader ICD is used, then
// the one shipped inside the `webgpu` package.

const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json'];

let cached: GPU | null = null;

export async function nodeGpu(flags: string[] = []): Promise<GPU> {
  if (cached) return cached;
  const fs = await import('node:fs');
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasGpuDevice(fs)) {
    const icd = SWIFTSHADER_ICDS.find((p) => fs.existsSync(p));
    if (icd) process.env.VK_ICD_FILENAMES = icd;
  }
  const name = 'webgpu';
  const mod = (await import(/* @vite-ignore */ name)) as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  cached = mod.create(flags);
  return cached;
}

/** A render node or NVIDIA device file means a real driver may be there: leave Vulkan's choice alone. */
function hasGpuDevice(fs: typeof import('node:fs')): boolean {
  if (fs.existsSync('/dev/nvidia0')) return true;
  try {
    return fs.readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}
