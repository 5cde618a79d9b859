// Params: pack a kernel's uniform struct. WGSL structs of scalar u32/i32/f32 fields have 4-byte
// fields in declaration order; the wrapper writes them in the same order as the .wgsl declares.
//
//   new Params().u32(rows).u32(cols).f32(eps).buffer

export class Params {
  private readonly words: number[] = [];
  private readonly kinds: ('u' | 'i' | 'f')[] = [];

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`Params.u32: ${v} is not a u32`);
    this.words.push(v);
    this.kinds.push('u');
    return this;
  }

  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`Params.i32: ${v} is not an i32`);
    this.words.push(v);
    this.kinds.push('i');
    return this;
  }

  f32(v: number): this {
    if (!Number.isFinite(v)) throw new RangeError(`Params.f32: ${v} is not finite`);
    this.words.push(v);
    this.kinds.push('f');
    return this;
  }

  bool(v: boolean): this {
    return this.u32(v ? 1 : 0);
  }

  /** Bytes, padded to 16. */
  get buffer(): ArrayBuffer {
    const n = Math.ceil(Math.max(this.words.length, 4) / 4) * 4;
    const buf = new ArrayBuffer(n * 4);
    const dv = new DataView(buf);
    this.words.forEach((w, i) => {
      if (this.kinds[i] === 'f') dv.setFloat32(i * 4, w, true);
      else if (this.kinds[i] === 'i') dv.setInt32(i * 4, w, true);
      else dv.setUint32(i * 4, w, true);
    });
    return buf;
  }
}
