// Typed GPU errors. The engine catches GpuDeviceLostError and recreates the device (all GPU
// buffers are gone with it); the others are bugs or resource limits, reported with what to do.

import { WebMoeError } from '../format/errors.ts';

/** No WebGPU adapter: the browser has WebGPU off, or Node lacks the `webgpu` package / a Vulkan driver. */
export class GpuUnavailableError extends WebMoeError {
  constructor(detail: string) {
    super(
      'gpu_unavailable',
      `WebGPU is not available: ${detail}. In a browser use a recent Chrome/Edge (in headless Chromium ` +
        `pass --enable-unsafe-webgpu); in Node install the "webgpu" package and point Vulkan at a driver ` +
        `(e.g. VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json), or use the CPU backend.`,
    );
  }
}

/** The device is gone (driver reset, tab in background too long, out of memory, destroy()). */
export class GpuDeviceLostError extends WebMoeError {
  readonly reason: string;
  constructor(reason: string, detail: string) {
    super(
      'gpu_device_lost',
      `The GPU device was lost (${reason}${detail ? `: ${detail}` : ''}). Reload the model to create a new ` +
        `device; if it keeps happening, lower the expert cache budget or close other GPU-heavy tabs.`,
    );
    this.reason = reason;
  }
}

/** An uncaptured or scoped GPU error (validation, out-of-memory, internal). */
export class GpuValidationError extends WebMoeError {
  readonly kind: 'validation' | 'out-of-memory' | 'internal';
  constructor(kind: 'validation' | 'out-of-memory' | 'internal', message: string, where = '') {
    const hint =
      kind === 'out-of-memory'
        ? 'The GPU ran out of memory: lower the expert cache budget or use a smaller model.'
        : 'This is a bug in a WebMoE kernel or its wrapper: please report it with this message.';
    super('gpu_error', `GPU ${kind} error${where ? ` in ${where}` : ''}: ${message}. ${hint}`);
    this.kind = kind;
  }
}

/** A kernel wrapper was called with shapes or buffers that do not fit: a caller bug. */
export class KernelShapeError extends WebMoeError {
  constructor(kernel: string, message: string) {
    super('kernel_shape', `${kernel}: ${message}. Fix the caller: check the tensor shapes against the kernel header.`);
  }
}

/** Turn a GPUError (from an error scope or uncapturederror) into a typed error. */
export function toGpuError(err: GPUError, where = ''): GpuValidationError {
  const name = err.constructor?.name ?? '';
  const kind = name.includes('OutOfMemory') ? 'out-of-memory' : name.includes('Internal') ? 'internal' : 'validation';
  return new GpuValidationError(kind, err.message, where);
}
