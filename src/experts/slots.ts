// Slot bookkeeping of the expert cache, without GPU types: which expert of a layer sits in which
// slot, least-recently-used eviction, and counters. Each layer owns a fixed number of slots
// (every token needs exactly K experts per layer, so a per-layer partition loses little against
// one global pool, and it keeps a layer's experts inside one GPU binding).

export interface SlotPlan {
  /** slot of each requested expert, in request order */
  slots: number[];
  /** requested experts that were not resident, with the slot they must be written to */
  misses: { expert: number; slot: number }[];
}

export class LayerSlots {
  /** expert -> slot */
  private readonly where = new Map<number, number>();
  /** slot -> expert (-1 free) */
  private readonly owner: Int32Array;
  /** slot -> last use tick */
  private readonly lastUse: Float64Array;
  private tick = 0;

  constructor(readonly capacity: number) {
    this.owner = new Int32Array(capacity).fill(-1);
    this.lastUse = new Float64Array(capacity);
  }

  has(expert: number): boolean {
    return this.where.has(expert);
  }

  residentExperts(): number[] {
    return [...this.where.keys()];
  }

  /**
   * Place `experts` (distinct ids needed together) in slots: hits keep theirs, misses take free
   * slots first, then the least recently used slots not needed now.
   */
  plan(experts: number[]): SlotPlan {
    if (experts.length > this.capacity) throw new RangeError(`${experts.length} experts requested at once but the layer has ${this.capacity} slots`);
    const now = ++this.tick;
    const needed = new Set(experts);
    const slots: number[] = new Array(experts.length);
    const misses: SlotPlan['misses'] = [];
    const pending: number[] = [];
    experts.forEach((e, i) => {
      const s = this.where.get(e);
      if (s === undefined) pending.push(i);
      else {
        slots[i] = s;
        this.lastUse[s] = now;
      }
    });
    for (const i of pending) {
      const e = experts[i];
      let victim = -1;
      for (let s = 0; s < this.capacity; s++) {
        if (this.owner[s] === -1) {
          victim = s;
          break;
        }
        if (needed.has(this.owner[s]) || this.lastUse[s] === now) continue;
        if (victim < 0 || this.lastUse[s] < this.lastUse[victim]) victim = s;
      }
      if (victim < 0) throw new RangeError('no evictable slot (capacity below the experts needed at once)');
      const old = this.owner[victim];
      if (old >= 0) this.where.delete(old);
      this.owner[victim] = e;
      this.where.set(e, victim);
      this.lastUse[victim] = now;
      slots[i] = victim;
      misses.push({ expert: e, slot: victim });
    }
    return { slots, misses };
  }
}
