// Buffer pool: creating and first-binding a GPUBuffer is expensive, so scratch buffers (uniform
// chunks, staging for readback, activations) are recycled by (usage, size bucket).
//
// Recycling right after submit is safe: queue operations (writeBuffer, submit) run in call order,
// so work submitted later never overtakes work that used the buffer before.

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice) {}

  /** Bucketed size: powers of two below 1 MiB, whole MiB above (at least 256 bytes). */
  static bucket(bytes: number): number {
    const n = Math.max(256, Math.ceil(bytes));
    if (n >= 1 << 20) return Math.ceil(n / (1 << 20)) * (1 << 20);
    return 2 ** Math.ceil(Math.log2(n));
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'pool'): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    const list = this.free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) return reused;
    return this.device.createBuffer({ size, usage, label: `${label}:${size}` });
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
  }

  /** Destroy all free buffers (the ones in use stay valid). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}
