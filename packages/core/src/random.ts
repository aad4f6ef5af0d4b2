import { ConfigError } from './errors';

/**
 * Seeded random numbers for everything the project draws: initial weights, shuffling,
 * augmentation, ShakeDrop gates. One user seed fans out into named, independent streams
 * (`rng.fork('init')`), so adding draws to one stream never shifts another, and a stream's
 * full state can be saved in a checkpoint and restored.
 *
 * The generator is xoshiro128** (Blackman & Vigna), seeded through splitmix32; it uses only
 * 32-bit integer arithmetic, so its integers are identical on every platform.
 */
export interface RngState {
  algorithm: 'xoshiro128**';
  /** Four unsigned 32-bit words. */
  words: [number, number, number, number];
  /** The second value of the last Box-Muller pair, not yet returned. */
  spareNormal: number | null;
}

const TWO_POW_32 = 4294967296;

function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let t = state.x ^ (state.x >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return t >>> 0;
}

/** FNV-1a over the UTF-16 code units of a label: turns stream names into seed material. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function assertSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new ConfigError(`${what} must be a non-negative integer, got ${seed}`);
  }
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;
  /** Seed material this stream was derived from; forks hash their label into it. */
  private readonly material: readonly number[];

  private constructor(material: readonly number[]) {
    this.material = material;
    const mixer = { x: 0 };
    for (const word of material) mixer.x = (splitmix32(mixer) ^ word) | 0;
    this.s0 = splitmix32(mixer);
    this.s1 = splitmix32(mixer);
    this.s2 = splitmix32(mixer);
    this.s3 = splitmix32(mixer);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A root stream from a user seed (a non-negative safe integer). */
  static fromSeed(seed: number): Rng {
    assertSeed(seed);
    return new Rng([seed % TWO_POW_32, Math.floor(seed / TWO_POW_32)]);
  }

  /** Restores a stream saved with `state()`; it continues exactly where the saved one stood. */
  static fromState(state: RngState): Rng {
    if (state?.algorithm !== 'xoshiro128**' || !Array.isArray(state.words) || state.words.length !== 4) {
      throw new ConfigError('random state is not an xoshiro128** state with four words');
    }
    const rng = new Rng([0]);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.words.map((w) => w >>> 0);
    rng.spare = state.spareNormal;
    return rng;
  }

  /**
   * An independent stream named `label`, derived from this stream's seed material (not from its
   * current position), so forking is unaffected by how much the parent has drawn.
   */
  fork(label: string): Rng {
    return new Rng([...this.material, hashLabel(label)]);
  }

  state(): RngState {
    return { algorithm: 'xoshiro128**', words: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spareNormal: this.spare };
  }

  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new ConfigError(`Rng.int needs 1 <= n <= 2^32, got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** A standard normal draw (Box-Muller; the pair's second value is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const value = this.spare;
      this.spare = null;
      return value;
    }
    let u1 = this.uniform();
    while (u1 === 0) u1 = this.uniform();
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    this.spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  }

  /**
   * A Gamma(shape, 1) draw: Marsaglia and Tsang's squeeze method (ACM TOMS 26(3), 2000) for
   * shape >= 1, and Gamma(shape + 1) * U^(1/shape) below 1.
   */
  gamma(shape: number): number {
    if (!(shape > 0 && Number.isFinite(shape))) throw new ConfigError(`Rng.gamma needs a positive shape, got ${shape}`);
    if (shape < 1) {
      let u = this.uniform();
      while (u === 0) u = this.uniform();
      return this.gamma(shape + 1) * u ** (1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** A Beta(a, b) draw, as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** Fills `out` with normal draws of the given mean and standard deviation. */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fills `out` with uniform draws in [low, high). */
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    return order;
  }
}
