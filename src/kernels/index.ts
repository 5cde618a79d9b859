// WGSL kernels, one folder each (name.wgsl: math, bindings, dispatch; name.ts: typed encode
// wrapper with shape checks; name.test.ts: GPU vs the CPU reference). Every wrapper records into
// a GpuEncoder and never submits, so a forward pass can encode a whole token into one command
// buffer: `const enc = ctx.encoder(); ...kernels...; const id = enc.read(tokenBuf, 0, 4); enc.submit();`
//
// Offsets and strides are in elements (f32 / u32 entries) of the bound buffer, except the byte
// offsets of packed weights (`wOffset`), which follow quant-layout.ts.

export { embedding, type EmbeddingArgs } from './embedding/embedding.ts';
export { rmsnorm, type RmsnormArgs } from './rmsnorm/rmsnorm.ts';
export { rope, ropeCosSin, type RopeArgs } from './rope/rope.ts';
export { matmul, matvec, type MatmulArgs, type MatvecArgs } from './matvec/matvec.ts';
export { attention, type AttentionArgs } from './attention/attention.ts';
export { kvWrite, type KvWriteArgs } from './kv-cache/kv-cache.ts';
export { lightning, type LightningArgs } from './lightning/lightning.ts';
export { clampInPlace, sigmoidGate, siluInPlace } from './elementwise/elementwise.ts';
export { expertSlots, route, type ExpertSlotsArgs, type RouteArgs } from './router/router.ts';
export { swiglu, type SwigluArgs } from './swiglu/swiglu.ts';
export { combine, type CombineArgs } from './combine/combine.ts';
export { residual, type ResidualArgs } from './residual/residual.ts';
export { argmax, type ArgmaxArgs } from './argmax/argmax.ts';
export { MAX_TOPK, topk, type TopkArgs } from './topk/topk.ts';
