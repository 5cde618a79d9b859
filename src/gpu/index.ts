// The GPU layer: device + limits, buffer pool, pipeline cache, encoder with params arena and
// readback. No model knowledge.
export { createGpuContext, findGpu, GpuContext, STORAGE_RW, type GpuCaps, type GpuOptions } from './device.ts';
export { GpuEncoder, bindingSize, bufferOf, linearGrid, type BufferArg } from './encoder.ts';
export { BufferPool } from './pool.ts';
export { PipelineCache, type Constants, type Kernel, type KernelSource } from './pipelines.ts';
export { Params } from './params.ts';
export { GpuDeviceLostError, GpuUnavailableError, GpuValidationError, KernelShapeError, toGpuError } from './errors.ts';
