/**
 * glibc srand()/rand(): the TYPE_3 additive feedback generator (degree 31, separation 3)
 * that glibc uses by default, including the 310 outputs it discards after seeding.
 * All state is uint32; a Uint32Array store performs the mod 2^32 of the additions.
 */

const DEG = 31;
const SEP = 3;
const DISCARD = 310;

export class GlibcRandom {
  /** The last 31 generated words r[i-31..i-1], indexed by i mod 31. */
  private readonly ring = new Uint32Array(DEG);
  /** Index i of the next word r[i] to generate, kept mod 31. */
  private pos = 0;

  constructor(seed = 1) {
    this.srand(seed);
  }

  /** C srand(seed): seed is taken as unsigned int; 0 behaves like 1. */
  srand(seed: number): void {
    let word = seed >>> 0;
    if (word === 0) word = 1;
    word |= 0; // r[0] is the seed reinterpreted as int32
    const r = this.ring;
    r[0] = word;
    for (let i = 1; i < DEG; i++) {
      // 16807 * r mod (2^31 - 1) by Schrage's method, in signed 32-bit range; the
      // products stay below 2^53 so plain doubles are exact.
      const hi = Math.trunc(word / 127773);
      const lo = word - 127773 * hi;
      word = 16807 * lo - 2836 * hi;
      if (word < 0) word += 2147483647;
      r[i] = word;
    }
    // r[31..33] copy r[0..2], which the ring already holds in the same slots; generation
    // from r[34] on is the plain recurrence, so start at i = 34 after those copies.
    this.pos = 34 % DEG;
    for (let k = 0; k < DISCARD; k++) this.next();
  }

  /** Generates r[i] = r[i-31] + r[i-3] (mod 2^32) and returns it. */
  private next(): number {
    const r = this.ring;
    const i = this.pos;
    let j = i - SEP;
    if (j < 0) j += DEG;
    const v = (r[i]! + r[j]!) >>> 0;
    r[i] = v;
    this.pos = i + 1 === DEG ? 0 : i + 1;
    return v;
  }

  /** C rand(): 0 .. 2147483647. */
  rand(): number {
    return this.next() >>> 1;
  }
}
