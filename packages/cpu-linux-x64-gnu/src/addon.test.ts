// The addon against float64 references computed here by the definitions (direct loops), on
// shapes that cover PyramidNet's cases: odd channel counts, stride 2 with tfjs's 'same' padding
// (one row more at the bottom), 1x1 projections, tiny and large pixel counts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const binary = new URL('../dist/pyramid-cpu.node', import.meta.url);
const built = existsSync(binary);
const addon: any = built ? createRequire(import.meta.url)('../index.cjs') : null;

type Geometry = [number, number, number, number, number, number, number, number, number, number, number, number, number];

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(Math.sin((i + 1) * 12.9898 + seed * 78.233) * 0.5);
  return out;
}

/** tfjs's geometry for a k x k convolution with 'same' padding. */
function same(n: number, h: number, c: number, k: number, filter: number, stride: number): Geometry {
  const out = Math.ceil(h / stride);
  const pad = Math.max((out - 1) * stride + filter - h, 0);
  return [n, h, h, c, filter, filter, k, stride, stride, Math.floor(pad / 2), Math.floor(pad / 2), out, out];
}

/** Calls visit(xIndex, wIndex, yIndex) for every multiply-accumulate of the convolution. */
function eachTap(g: Geometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const [N, H, W, C, FH, FW, K, SH, SW, PT, PL, OH, OW] = g;
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let i = 0; i < FH; i++)
          for (let j = 0; j < FW; j++) {
            const h = oh * SH - PT + i;
            const w = ow * SW - PL + j;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            for (let c = 0; c < C; c++)
              for (let k = 0; k < K; k++) visit(((n * H + h) * W + w) * C + c, ((i * FW + j) * C + c) * K + k, ((n * OH + oh) * OW + ow) * K + k);
          }
}

function maxRelativeError(actual: Float32Array, expected: Float64Array): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst / Math.max(scale, 1e-30);
}

/** Runs `body` with every convolution direction in `layout`, then puts the addon's default back. */
function withLayouts<T>(layout: 'nhwc' | 'blocked', body: () => T): T {
  const { forward, data, weights } = addon.info().convolutionLayouts;
  addon.setConvolutionLayouts(layout, layout, layout);
  try {
    return body();
  } finally {
    addon.setConvolutionLayouts(forward, data, weights);
  }
}

const GEOMETRIES: [string, Geometry][] = [
  ['3x3 stride 1, odd channels', same(2, 7, 5, 7, 3, 1)],
  ['3x3 stride 2, padding at the bottom only', same(2, 8, 6, 11, 3, 2)],
  ['1x1 stride 2 projection', same(3, 8, 4, 9, 1, 2)],
  ['3x3 stride 1, 16 channels in and out', same(1, 9, 16, 16, 3, 1)],
  ['stem: 3 channels in', same(2, 6, 3, 16, 3, 1)],
];

describe.skipIf(!built && !process.env.CI)('native CPU kernels: convolutions against float64 loops', () => {
  const cases = GEOMETRIES.flatMap(([name, g]) => (['nhwc', 'blocked'] as const).map((layout) => [`${name}, ${layout} layouts`, g, layout] as const));
  it.each(cases)('forward, input gradient and filter gradient: %s', (_, g, layout) => {
    const [N, H, W, C, FH, FW, K, , , , , OH, OW] = g;
    const x = values(N * H * W * C, 1);
    const w = values(FH * FW * C * K, 2);
    const dy = values(N * OH * OW * K, 3);
    const y64 = new Float64Array(dy.length);
    const dx64 = new Float64Array(x.length);
    const dw64 = new Float64Array(w.length);
    eachTap(g, (xi, wi, yi) => {
      y64[yi] += x[xi] * w[wi];
      dx64[xi] += dy[yi] * w[wi];
      dw64[wi] += dy[yi] * x[xi];
    });
    const geometry = Int32Array.from(g);
    withLayouts(layout, () => {
      for (const threads of [1, 2]) {
        addon.setThreads(threads);
        const y = new Float32Array(dy.length).fill(NaN);
        const dx = new Float32Array(x.length).fill(NaN);
        const dw = new Float32Array(w.length).fill(NaN);
        const dwFresh = new Float32Array(w.length).fill(NaN);
        addon.convForward(x, w, y, geometry);
        addon.convBackwardData(dy, w, dx, geometry);
        addon.convBackwardWeights(x, dy, dw, geometry, true);
        addon.convBackwardWeights(x, dy, dwFresh, geometry, false);
        expect(maxRelativeError(y, y64)).toBeLessThan(1e-6);
        expect(maxRelativeError(dx, dx64)).toBeLessThan(1e-6);
        expect(maxRelativeError(dw, dw64)).toBeLessThan(1e-6);
        expect(maxRelativeError(dwFresh, dw64)).toBeLessThan(1e-6);
      }
    });
  });

  // 16 channels in and out: oneDNN's two backward primitives then want the output gradient in the
  // same blocked layout on every instruction set (on AVX-512 they differ for 7 channels).
  it('works on the NHWC arrays in place with the NHWC layouts, and reorders every activation with the blocked ones', () => {
    const g = same(2, 7, 16, 16, 3, 1);
    const [N, H, W, C, FH, FW, K, , , , , OH, OW] = g;
    const geometry = Int32Array.from(g);
    const x = values(N * H * W * C, 5);
    const w = values(FH * FW * C * K, 6);
    const dy = values(N * OH * OW * K, 7);
    const [y, dx, dw] = [new Float32Array(dy.length), new Float32Array(x.length), new Float32Array(w.length)];
    const reordersOfOneStep = () => {
      const before = addon.info().activationReorders;
      addon.convForward(x, w, y, geometry);
      addon.convBackwardData(dy, w, dx, geometry);
      addon.convBackwardWeights(x, dy, dw, geometry, true);
      return addon.info().activationReorders - before;
    };
    expect(withLayouts('nhwc', reordersOfOneStep)).toBe(0);
    // x and y forward, dy and dx backward, x again for the filter gradient (dy's copy is reused).
    expect(withLayouts('blocked', reordersOfOneStep)).toBe(5);
    expect(() => addon.setConvolutionLayouts('nchw', 'nhwc', 'nhwc')).toThrow("setConvolutionLayouts: forward must be 'nhwc' or 'blocked', got 'nchw'");
  });

  it('reuses the output gradient reordered by the input gradient only when it is the same array (blocked layouts)', () => {
    const g = same(2, 7, 16, 16, 3, 1);
    const [N, H, W, C, FH, FW, K, , , , , OH, OW] = g;
    const geometry = Int32Array.from(g);
    const x = values(N * H * W * C, 8);
    const w = values(FH * FW * C * K, 9);
    const dyFirst = values(N * OH * OW * K, 10);
    const dySecond = values(N * OH * OW * K, 11);
    const expected = new Float64Array(w.length);
    eachTap(g, (xi, wi, yi) => (expected[wi] += dySecond[yi] * x[xi]));

    withLayouts('blocked', () => reuseOnlyTheSameArray(geometry, x, w, dyFirst, dySecond, expected));
  });

  function reuseOnlyTheSameArray(geometry: Int32Array, x: Float32Array, w: Float32Array, dyFirst: Float32Array, dySecond: Float32Array, expected: Float64Array): void {
    const dx = new Float32Array(x.length);
    const dw = new Float32Array(w.length);
    const before = addon.info().reusedDiffDst;
    addon.convBackwardData(dySecond, w, dx, geometry);
    addon.convBackwardWeights(x, dySecond, dw, geometry, true);
    expect(addon.info().reusedDiffDst).toBe(before + 1);
    expect(maxRelativeError(dw, expected)).toBeLessThan(1e-6);

    // The caller's word is not enough: another array is reordered afresh.
    addon.convBackwardData(dyFirst, w, dx, geometry);
    dw.fill(NaN);
    addon.convBackwardWeights(x, dySecond, dw, geometry, true);
    expect(addon.info().reusedDiffDst).toBe(before + 1);
    expect(maxRelativeError(dw, expected)).toBeLessThan(1e-6);
  }

  it('refuses arrays of the wrong type or length with the function and argument named', () => {
    const g = Int32Array.from(same(1, 4, 2, 2, 3, 1));
    expect(() => addon.convForward(new Float64Array(32), new Float32Array(36), new Float32Array(32), g)).toThrow('convForward: argument 0 must be a Float32Array');
    expect(() => addon.convForward(new Float32Array(32), new Float32Array(35), new Float32Array(32), g)).toThrow('convForward: argument 1 holds 35 floats, needs 36');
    expect(() => addon.convForward(new Float32Array(32), new Float32Array(36), new Float32Array(32), new Int32Array(12))).toThrow('geometry must be an Int32Array of 13');
  });
});

/**
 * The reductions add rows in float within blocks of 32 and the blocks in double: the error stays
 * within about 32 float roundings of the sum of the terms' magnitudes (32 x 2^-24 < 2e-6).
 */
const FLOAT_BLOCK_BOUND = 2e-6;

describe.skipIf(!built && !process.env.CI)('native CPU kernels: memory-bound passes against float64 loops', () => {
  const rows = 3000;
  const C = 21;
  const x = values(rows * C, 4);
  const dy = values(rows * C, 5);
  const mask = values(rows * C, 6);
  const center = values(C, 7);

  it('adds', () => {
    const out = new Float32Array(rows * C);
    addon.add(x, dy, out, rows * C);
    // Float32 addition is exactly rounded: the float32 rounding of the exact sum, bit for bit.
    expect(out).toEqual(Float32Array.from(x, (v, i) => v + dy[i]));
  });

  it('sums per channel, and squared deviations from a centre', () => {
    const sums = new Float64Array(C);
    const squares = new Float64Array(C);
    addon.channelSums(x, rows, C, null, sums);
    addon.channelSums(x, rows, C, center, squares);
    for (let c = 0; c < C; c++) {
      let s = 0;
      let magnitude = 0;
      let q = 0;
      for (let r = 0; r < rows; r++) {
        s += x[r * C + c];
        magnitude += Math.abs(x[r * C + c]);
        q += (x[r * C + c] - center[c]) ** 2;
      }
      expect(Math.abs(sums[c] - s)).toBeLessThan(FLOAT_BLOCK_BOUND * magnitude);
      expect(Math.abs(squares[c] - q)).toBeLessThan(FLOAT_BLOCK_BOUND * q);
    }
  });

  it('sums gradients per channel, masked where the ReLU output is not positive', () => {
    const sumDy = new Float64Array(C);
    const sumDyX = new Float64Array(C);
    addon.channelGradSums(dy, x, mask, rows, C, center, sumDy, sumDyX);
    for (let c = 0; c < C; c++) {
      let a = 0;
      let b = 0;
      let magnitudeA = 0;
      let magnitudeB = 0;
      for (let r = 0; r < rows; r++) {
        const g = mask[r * C + c] > 0 ? dy[r * C + c] : 0;
        a += g;
        b += g * (x[r * C + c] - center[c]);
        magnitudeA += Math.abs(g);
        magnitudeB += Math.abs(g * (x[r * C + c] - center[c]));
      }
      expect(Math.abs(sumDy[c] - a)).toBeLessThan(FLOAT_BLOCK_BOUND * magnitudeA);
      expect(Math.abs(sumDyX[c] - b)).toBeLessThan(FLOAT_BLOCK_BOUND * magnitudeB);
    }
  });

  it('applies per-channel affine maps: forward with ReLU, and the masked gradient form', () => {
    const scale = values(C, 8);
    const scale2 = values(C, 9);
    const shift = values(C, 10);
    const y = new Float32Array(rows * C);
    addon.channelAffine(x, null, y, rows, C, scale, null, shift, true, null);
    const dx = new Float32Array(rows * C);
    addon.channelAffine(x, dy, dx, rows, C, scale, scale2, shift, false, mask);
    for (let i = 0; i < rows * C; i++) {
      const c = i % C;
      expect(y[i]).toBeCloseTo(Math.max(0, x[i] * scale[c] + shift[c]), 6);
      expect(dx[i]).toBeCloseTo((mask[i] > 0 ? dy[i] : 0) * scale[c] + shift[c] + x[i] * scale2[c], 6);
    }
  });

  it('updates parameters by SGD per run of its own weight decay and rate, as torch.optim.SGD does (hand-computed)', () => {
    // Two runs: [p0, p1] with weight decay 0.5 and lr 0.1, [p2] with none and lr 1; momentum 0.9, Nesterov, not the first step.
    const p = Float32Array.from([1, -2, 4]);
    const g = Float32Array.from([0.5, 0.25, -1]);
    const buf = Float32Array.from([2, 0, 1]);
    addon.sgdStep(p, g, buf, Int32Array.from([0, 2, 3]), Float32Array.from([0.5, 0]), Float32Array.from([0.1, 1]), 0.9, 0, true, false);
    // p0: g' = 0.5 + 0.5 = 1, b = 0.9 * 2 + 1 = 2.8, step = 1 + 0.9 * 2.8 = 3.52, p = 1 - 0.352.
    // p1: g' = 0.25 - 1 = -0.75, b = -0.75, step = -0.75 - 0.675 = -1.425, p = -2 + 0.1425.
    // p2: g' = -1, b = 0.9 - 1 = -0.1, step = -1 - 0.09 = -1.09, p = 4 + 1.09.
    expect([...buf].map((v) => +v.toFixed(6))).toEqual([2.8, -0.75, -0.1]);
    expect([...p].map((v) => +v.toFixed(5))).toEqual([0.648, -1.8575, 5.09]);
    expect(() => addon.sgdStep(p, g, buf, Int32Array.from([1, 3]), new Float32Array(1), new Float32Array(1), 0.9, 0, true, false)).toThrow('sgdStep: bounds must start at 0');
    expect(() => addon.sgdStep(p, g, buf, Int32Array.from([0, 4]), new Float32Array(1), new Float32Array(1), 0.9, 0, true, false)).toThrow('sgdStep: argument 0 holds 3 floats, needs 4');
  });

  it('lets NaN through the ReLU, as torch.relu does, and maps negatives and zeros to +0', () => {
    const input = Float32Array.from([NaN, -2, -0, 0, 3, NaN, -1, 5]);
    const out = new Float32Array(input.length);
    addon.channelAffine(input, null, out, 4, 2, Float32Array.from([1, 1]), null, Float32Array.from([0, 0]), true, null);
    expect([...out]).toEqual([NaN, 0, 0, 0, 3, NaN, 0, 5]);
    expect(Object.is(out[2], 0)).toBe(true);
  });

  it.each([
    ['stride 1, 5 of 8 channels from the input', 2, 5, 5, 5, 8, 1],
    ['stride 2 over odd sides, windows of 1 at the edges', 2, 7, 5, 3, 6, 2],
    ['stride 2 over even sides', 1, 8, 8, 6, 6, 2],
  ])('adds the zero-padded shortcut and takes its gradient: %s', (_, N, H, W, CI, CO, stride) => {
    const OH = stride === 2 ? Math.ceil(H / 2) : H;
    const OW = stride === 2 ? Math.ceil(W / 2) : W;
    const shape = Int32Array.from([N, OH, OW, CO, H, W, CI, stride]);
    const r = values(N * OH * OW * CO, 11);
    const xs = values(N * H * W * CI, 12);
    const y = new Float32Array(r.length);
    const dx = new Float32Array(xs.length);
    addon.shortcutAdd(r, xs, y, shape);
    addon.shortcutGrad(r, dx, shape);
    // The definition: average pooling with 2x2 windows clipped at the edges (ceil mode), zero channels appended.
    const expectedDx = new Float64Array(xs.length);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++)
          for (let c = 0; c < CO; c++) {
            const o = ((n * OH + i) * OW + j) * CO + c;
            if (c >= CI) {
              expect(y[o]).toBe(r[o]);
              continue;
            }
            const window: number[] = [];
            for (let a = 0; a < stride; a++)
              for (let b = 0; b < stride; b++) {
                const h = i * stride + a;
                const w = j * stride + b;
                if (h < H && w < W) window.push(((n * H + h) * W + w) * CI + c);
              }
            const mean = window.reduce((s, k) => s + xs[k], 0) / window.length;
            expect(y[o]).toBeCloseTo(r[o] + mean, 6);
            for (const k of window) expectedDx[k] += r[o] / window.length;
          }
    expect(maxRelativeError(dx, expectedDx)).toBeLessThan(1e-7);
    expect(() => addon.shortcutAdd(r, xs, y, Int32Array.from([N, OH + 1, OW, CO, H, W, CI, stride]))).toThrow('shortcutAdd: the residual does not fit the input at this stride');
  });

  it('reports the instruction set it picked and the oneDNN it runs', () => {
    const info = addon.info();
    expect(['avx512', 'avx2', 'baseline']).toContain(info.isa);
    expect(info.onednn).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe.skipIf(!built && !process.env.CI)('native CPU kernels: the machine peak', () => {
  it('measures a positive multiply-add rate and refuses a meaningless duration', () => {
    addon.setThreads(1);
    expect(addon.peakGflops(0.05)).toBeGreaterThan(0.1);
    expect(() => addon.peakGflops(0)).toThrow('peakGflops: seconds must be in (0, 10]');
  });
});
