// CPU kernels for @pyramid/core, compiled by AssemblyScript to WebAssembly with 128-bit SIMD.
// Every pointer is a byte offset into linear memory and every tensor is row-major float32; the
// JavaScript side owns the memory layout and hands each call its own scratch space, so that
// several threads can run these functions on one shared memory at once.

// Register tile of the GEMM micro-kernel: MR rows by NR columns of C, kept in 12 v128 registers.
const MR: i32 = 6;
const NR: i32 = 8;
// Cache blocking: a KC-deep slice of A (MC rows) stays in L2, a KC x NR panel of B in L1.
const KC: i32 = 256;
const MC: i32 = 120;

/** Bytes of scratch that `gemm` needs for an N-column product. */
export function gemmScratchBytes(N: i32): i32 {
  return ((N + NR) * KC + (MC + MR) * KC + MR * NR) << 2;
}

// Packs rows [m0, m0+mc) and depth [k0, k0+kc) of op(A) into MR-row panels: for each k, MR values.
// op(A)[i][k] is A[i*lda + k], or A[k*lda + i] when transposed.
function packA(dst: usize, A: usize, lda: i32, transA: bool, m0: i32, mc: i32, k0: i32, kc: i32): void {
  for (let i = 0; i < mc; i += MR) {
    const rows = min(MR, mc - i);
    const panel = dst + ((i * kc) << 2);
    if (transA) {
      for (let k = 0; k < kc; k++) {
        const s = A + ((((k0 + k) * lda) + m0 + i) << 2);
        const d = panel + ((k * MR) << 2);
        if (rows == MR) {
          v128.store(d, v128.load(s));
          store<u64>(d + 16, load<u64>(s + 16));
        } else {
          for (let r = 0; r < MR; r++) store<f32>(d + (r << 2), r < rows ? load<f32>(s + (r << 2)) : 0);
        }
      }
    } else {
      for (let r = 0; r < MR; r++) {
        let d = panel + (r << 2);
        if (r < rows) {
          let s = A + ((((m0 + i + r) * lda) + k0) << 2);
          for (let k = 0; k < kc; k++) {
            store<f32>(d, load<f32>(s));
            s += 4;
            d += MR << 2;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            store<f32>(d, 0);
            d += MR << 2;
          }
        }
      }
    }
  }
}

// Packs depth [k0, k0+kc) and columns [0, N) of op(B) into NR-column panels: for each k, NR values.
// op(B)[k][j] is B[k*ldb + j], or B[j*ldb + k] when transposed.
function packB(dst: usize, B: usize, ldb: i32, transB: bool, k0: i32, kc: i32, N: i32): void {
  for (let j = 0; j < N; j += NR) {
    const cols = min(NR, N - j);
    const panel = dst + ((j * kc) << 2);
    if (transB) {
      for (let c = 0; c < NR; c++) {
        let d = panel + (c << 2);
        if (c < cols) {
          let s = B + ((((j + c) * ldb) + k0) << 2);
          for (let k = 0; k < kc; k++) {
            store<f32>(d, load<f32>(s));
            s += 4;
            d += NR << 2;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            store<f32>(d, 0);
            d += NR << 2;
          }
        }
      }
    } else {
      let d = panel;
      for (let k = 0; k < kc; k++) {
        const s = B + ((((k0 + k) * ldb) + j) << 2);
        if (cols == NR) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
        } else {
          for (let c = 0; c < NR; c++) store<f32>(d + (c << 2), c < cols ? load<f32>(s + (c << 2)) : 0);
        }
        d += NR << 2;
      }
    }
  }
}

// Writes (or adds) a 6x8 tile of accumulators into C; partial tiles go through `tmp`.
// @ts-ignore: decorator
@inline
function storeTile(
  c: usize, ldc: i32, rows: i32, cols: i32, accumulate: bool, tmp: usize,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128,
  c30: v128, c31: v128, c40: v128, c41: v128, c50: v128, c51: v128,
): void {
  const full = rows == MR && cols == NR;
  let out = full ? c : tmp;
  const stride: usize = (full ? ldc : NR) << 2;
  if (full && accumulate) {
    v128.store(out, f32x4.add(v128.load(out), c00));
    v128.store(out, f32x4.add(v128.load(out, 16), c01), 16);
    out += stride;
    v128.store(out, f32x4.add(v128.load(out), c10));
    v128.store(out, f32x4.add(v128.load(out, 16), c11), 16);
    out += stride;
    v128.store(out, f32x4.add(v128.load(out), c20));
    v128.store(out, f32x4.add(v128.load(out, 16), c21), 16);
    out += stride;
    v128.store(out, f32x4.add(v128.load(out), c30));
    v128.store(out, f32x4.add(v128.load(out, 16), c31), 16);
    out += stride;
    v128.store(out, f32x4.add(v128.load(out), c40));
    v128.store(out, f32x4.add(v128.load(out, 16), c41), 16);
    out += stride;
    v128.store(out, f32x4.add(v128.load(out), c50));
    v128.store(out, f32x4.add(v128.load(out, 16), c51), 16);
    return;
  }
  v128.store(out, c00);
  v128.store(out, c01, 16);
  out += stride;
  v128.store(out, c10);
  v128.store(out, c11, 16);
  out += stride;
  v128.store(out, c20);
  v128.store(out, c21, 16);
  out += stride;
  v128.store(out, c30);
  v128.store(out, c31, 16);
  out += stride;
  v128.store(out, c40);
  v128.store(out, c41, 16);
  out += stride;
  v128.store(out, c50);
  v128.store(out, c51, 16);
  if (!full) {
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const p = c + ((r * ldc + q) << 2);
        const v = load<f32>(tmp + ((r * NR + q) << 2));
        store<f32>(p, accumulate ? load<f32>(p) + v : v);
      }
    }
  }
}

// C[0:rows, 0:cols] (+)= a_panel . b_panel over kc, through 12 SIMD accumulators. Partial tiles go
// through `tmp` so that the inner loop never branches.
// @ts-ignore: decorator
@inline
function microTile(kc: i32, a: usize, b: usize, c: usize, ldc: i32, rows: i32, cols: i32, accumulate: bool, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0), c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 16);
    c40 = f32x4.add(c40, f32x4.mul(av, b0));
    c41 = f32x4.add(c41, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 20);
    c50 = f32x4.add(c50, f32x4.mul(av, b0));
    c51 = f32x4.add(c51, f32x4.mul(av, b1));
    a += MR << 2;
    b += NR << 2;
  }
  storeTile(c, ldc, rows, cols, accumulate, tmp, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

/**
 * C[M, N] = op(A)[M, K] . op(B)[K, N], or C += ... with `accumulate`. `scratch` must hold
 * gemmScratchBytes(N) bytes.
 */
export function gemm(
  M: i32, N: i32, K: i32,
  A: usize, lda: i32, transA: bool,
  B: usize, ldb: i32, transB: bool,
  C: usize, ldc: i32, accumulate: bool,
  scratch: usize,
): void {
  const pb = scratch;
  const pa = pb + (((N + NR) * KC) << 2);
  const tmp = pa + (((MC + MR) * KC) << 2);
  if (K == 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(C + ((i * ldc) << 2), 0, N << 2);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = accumulate || k0 > 0;
    packB(pb, B, ldb, transB, k0, kc, N);
    for (let m0 = 0; m0 < M; m0 += MC) {
      const mc = min(MC, M - m0);
      packA(pa, A, lda, transA, m0, mc, k0, kc);
      for (let j = 0; j < N; j += NR) {
        const cols = min(NR, N - j);
        const bPanel = pb + ((j * kc) << 2);
        for (let i = 0; i < mc; i += MR) {
          microTile(kc, pa + ((i * kc) << 2), bPanel, C + ((((m0 + i) * ldc) + j) << 2), ldc, min(MR, mc - i), cols, acc, tmp);
        }
      }
    }
  }
}

/**
 * Gathers the receptive fields of output pixels [m0, m0+rows) of an NHWC convolution into `col`,
 * one row of KH*KW*C values per pixel (zeros where the window hangs over the padding).
 */
export function im2col(
  col: usize, X: usize,
  H: i32, W: i32, C: i32, KH: i32, KW: i32,
  strideH: i32, strideW: i32, padTop: i32, padLeft: i32,
  OH: i32, OW: i32, m0: i32, rows: i32,
): void {
  const rowBytes: usize = C << 2;
  let d = col;
  for (let m = m0; m < m0 + rows; m++) {
    const n = m / (OH * OW);
    const rem = m - n * OH * OW;
    const oh = rem / OW;
    const ow = rem - oh * OW;
    const iw0 = ow * strideW - padLeft;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * strideH - padTop + kh;
      if (ih >= 0 && ih < H && iw0 >= 0 && iw0 + KW <= W) {
        // The window's row lies inside the image: its KW pixels are contiguous in NHWC.
        memory.copy(d, X + ((((n * H + ih) * W + iw0) * C) << 2), rowBytes * <usize>KW);
        d += rowBytes * <usize>KW;
        continue;
      }
      for (let kw = 0; kw < KW; kw++) {
        const iw = iw0 + kw;
        const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
        if (C < 16) {
          // A few channels (the RGB stem): plain copies beat memory.copy's per-call cost.
          const s = X + ((((n * H + ih) * W + iw) * C) << 2);
          for (let c = 0; c < C; c++) store<f32>(d + (<usize>c << 2), inside ? load<f32>(s + (<usize>c << 2)) : 0);
        } else if (inside) {
          memory.copy(d, X + ((((n * H + ih) * W + iw) * C) << 2), rowBytes);
        } else {
          memory.fill(d, 0, rowBytes);
        }
        d += rowBytes;
      }
    }
  }
}

/** The adjoint of im2col: adds each column row back onto the input pixels it was gathered from. */
export function col2im(
  dX: usize, col: usize,
  H: i32, W: i32, C: i32, KH: i32, KW: i32,
  strideH: i32, strideW: i32, padTop: i32, padLeft: i32,
  OH: i32, OW: i32, m0: i32, rows: i32,
): void {
  let s = col;
  const vectors = C >> 2;
  for (let m = m0; m < m0 + rows; m++) {
    const n = m / (OH * OW);
    const rem = m - n * OH * OW;
    const oh = rem / OW;
    const ow = rem - oh * OW;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * strideH - padTop + kh;
      for (let kw = 0; kw < KW; kw++) {
        const iw = ow * strideW - padLeft + kw;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
          let d = dX + ((((n * H + ih) * W + iw) * C) << 2);
          let p = s;
          for (let v = 0; v < vectors; v++) {
            v128.store(d, f32x4.add(v128.load(d), v128.load(p)));
            d += 16;
            p += 16;
          }
          for (let c = vectors << 2; c < C; c++) {
            store<f32>(d, load<f32>(d) + load<f32>(p));
            d += 4;
            p += 4;
          }
        }
        s += C << 2;
      }
    }
  }
}

/** out[i] += src[i] for `count` floats: sums the partial filter gradients of several threads. */
export function addInto(out: usize, src: usize, count: i32): void {
  const vectors = count >> 2;
  for (let v = 0; v < vectors; v++) {
    v128.store(out, f32x4.add(v128.load(out), v128.load(src)));
    out += 16;
    src += 16;
  }
  for (let i = vectors << 2; i < count; i++) {
    store<f32>(out, load<f32>(out) + load<f32>(src));
    out += 4;
    src += 4;
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution drivers. Each is called by every thread of a pool with the same arguments except
// `thread`; they split the work among themselves so that no two threads write the same bytes.
// Geometry: NHWC input [N, H, W, C], HWIO filter [KH, KW, C, CO], output [N, OH, OW, CO].

/**
 * Y = conv(X, F): im2col on blocks of `blockRows` output pixels, then one GEMM per block against
 * the filter viewed as a [KH*KW*C, CO] matrix. Threads take blocks round-robin.
 */
export function conv2dForward(
  thread: i32, threads: i32,
  X: usize, F: usize, Y: usize,
  N: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, CO: i32,
  strideH: i32, strideW: i32, padTop: i32, padLeft: i32, OH: i32, OW: i32,
  blockRows: i32, scratch: usize, scratchPerThread: i32,
): void {
  const M = N * OH * OW;
  const K = KH * KW * C;
  const pointwise = KH == 1 && KW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0;
  const col = scratch + <usize>thread * <usize>scratchPerThread;
  const gemmScratch = col + <usize>((blockRows * K) << 2);
  for (let m0 = thread * blockRows; m0 < M; m0 += threads * blockRows) {
    const rows = min(blockRows, M - m0);
    if (pointwise) {
      gemm(rows, CO, K, X + <usize>((m0 * K) << 2), K, false, F, CO, false, Y + <usize>((m0 * CO) << 2), CO, false, gemmScratch);
    } else {
      im2col(col, X, H, W, C, KH, KW, strideH, strideW, padTop, padLeft, OH, OW, m0, rows);
      gemm(rows, CO, K, col, K, false, F, CO, false, Y + <usize>((m0 * CO) << 2), CO, false, gemmScratch);
    }
  }
}

/**
 * dX = conv2d_backprop_input(dY, F): per block, dCol = dY_block . F^T, then col2im onto dX.
 * Windows of neighbouring pixels overlap, so threads split by image, each clearing its own.
 */
export function conv2dBackpropInput(
  thread: i32, threads: i32,
  dY: usize, F: usize, dX: usize,
  N: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, CO: i32,
  strideH: i32, strideW: i32, padTop: i32, padLeft: i32, OH: i32, OW: i32,
  blockRows: i32, scratch: usize, scratchPerThread: i32,
): void {
  const K = KH * KW * C;
  const pixels = OH * OW;
  const pointwise = KH == 1 && KW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0;
  const col = scratch + <usize>thread * <usize>scratchPerThread;
  const gemmScratch = col + <usize>((blockRows * K) << 2);
  for (let n = thread; n < N; n += threads) {
    if (pointwise) {
      gemm(pixels, C, CO, dY + <usize>((n * pixels * CO) << 2), CO, false, F, CO, true, dX + <usize>((n * pixels * C) << 2), C, false, gemmScratch);
      continue;
    }
    memory.fill(dX + <usize>((n * H * W * C) << 2), 0, (H * W * C) << 2);
    for (let p0 = 0; p0 < pixels; p0 += blockRows) {
      const rows = min(blockRows, pixels - p0);
      const m0 = n * pixels + p0;
      gemm(rows, K, CO, dY + <usize>((m0 * CO) << 2), CO, false, F, CO, true, col, K, false, gemmScratch);
      col2im(dX, col, H, W, C, KH, KW, strideH, strideW, padTop, padLeft, OH, OW, m0, rows);
    }
  }
}

/**
 * dF = conv2d_backprop_filter(X, dY) = sum over blocks of col_block^T . dY_block. Thread t adds
 * its blocks into its own [K, CO] partial at partials + t * K * CO floats; the caller sums them.
 */
export function conv2dBackpropFilter(
  thread: i32, threads: i32,
  X: usize, dY: usize, partials: usize,
  N: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, CO: i32,
  strideH: i32, strideW: i32, padTop: i32, padLeft: i32, OH: i32, OW: i32,
  blockRows: i32, scratch: usize, scratchPerThread: i32,
): void {
  const M = N * OH * OW;
  const K = KH * KW * C;
  const pointwise = KH == 1 && KW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0;
  const dF = partials + <usize>((thread * K * CO) << 2);
  const col = scratch + <usize>thread * <usize>scratchPerThread;
  const gemmScratch = col + <usize>((blockRows * K) << 2);
  let first = true;
  for (let m0 = thread * blockRows; m0 < M; m0 += threads * blockRows) {
    const rows = min(blockRows, M - m0);
    let A = col;
    if (pointwise) {
      A = X + <usize>((m0 * K) << 2);
    } else {
      im2col(col, X, H, W, C, KH, KW, strideH, strideW, padTop, padLeft, OH, OW, m0, rows);
    }
    gemm(K, CO, rows, A, K, true, dY + <usize>((m0 * CO) << 2), CO, false, dF, CO, !first, gemmScratch);
    first = false;
  }
  if (first) memory.fill(dF, 0, (K * CO) << 2);
}

// ---------------------------------------------------------------------------------------------
// Per-channel kernels over NHWC data viewed as [rows, C]: the passes of a fused batch norm.
// Threads take contiguous row ranges; reductions write one partial per thread, as f64 (a
// float32 running sum over 10^5 rows would lose digits), and the caller adds the partials.

/** Rows after which a thread's float32 channel accumulators are flushed into its f64 partials. */
const FLUSH_ROWS: i32 = 64;

// @ts-ignore: decorator
@inline
function rowRange(thread: i32, threads: i32, rows: i32): i64 {
  const per = (rows + threads - 1) / threads;
  const start = min(rows, thread * per);
  const end = min(rows, start + per);
  return (<i64>start << 32) | <i64>end;
}

function flush(acc: usize, partial: usize, C: i32): void {
  for (let c = 0; c < C; c++) {
    const p = partial + (<usize>c << 3);
    store<f64>(p, load<f64>(p) + <f64>load<f32>(acc + (<usize>c << 2)));
  }
  memory.fill(acc, 0, C << 2);
}

/**
 * Per-channel sums over this thread's rows: sum(x) when `center` is 0, else sum((x - center)^2),
 * into partials + thread * C doubles. `acc` holds threads * C floats of scratch.
 */
export function channelSums(thread: i32, threads: i32, X: usize, rows: i32, C: i32, center: usize, partials: usize, acc: usize): void {
  const range = rowRange(thread, threads, rows);
  const start = <i32>(range >> 32);
  const end = <i32>range;
  const partial = partials + (<usize>(thread * C) << 3);
  const a = acc + (<usize>(thread * C) << 2);
  memory.fill(partial, 0, C << 3);
  memory.fill(a, 0, C << 2);
  const vectors = C >> 2;
  for (let r = start; r < end; r++) {
    let x = X + (<usize>r * <usize>C << 2);
    let p = a;
    let m = center;
    if (center == 0) {
      for (let v = 0; v < vectors; v++) {
        v128.store(p, f32x4.add(v128.load(p), v128.load(x)));
        x += 16;
        p += 16;
      }
      for (let c = vectors << 2; c < C; c++) {
        store<f32>(p, load<f32>(p) + load<f32>(x));
        x += 4;
        p += 4;
      }
    } else {
      for (let v = 0; v < vectors; v++) {
        const d = f32x4.sub(v128.load(x), v128.load(m));
        v128.store(p, f32x4.add(v128.load(p), f32x4.mul(d, d)));
        x += 16;
        p += 16;
        m += 16;
      }
      for (let c = vectors << 2; c < C; c++) {
        const d = load<f32>(x) - load<f32>(m);
        store<f32>(p, load<f32>(p) + d * d);
        x += 4;
        p += 4;
        m += 4;
      }
    }
    if ((r - start) % FLUSH_ROWS == FLUSH_ROWS - 1) flush(a, partial, C);
  }
  flush(a, partial, C);
}

/**
 * Per-channel sum(dy) and sum(dy * (x - center)) over this thread's rows, into partials +
 * thread * 2C doubles (the first C for sum(dy)). `acc` holds threads * 2C floats of scratch.
 * With `mask` non-zero, dy counts only where mask > 0 (the gradient of a ReLU whose output is mask).
 */
export function channelGradSums(thread: i32, threads: i32, dY: usize, X: usize, rows: i32, C: i32, center: usize, partials: usize, acc: usize, mask: usize): void {
  const range = rowRange(thread, threads, rows);
  const start = <i32>(range >> 32);
  const end = <i32>range;
  const partial = partials + (<usize>(thread * 2 * C) << 3);
  const a = acc + (<usize>(thread * 2 * C) << 2);
  memory.fill(partial, 0, C << 4);
  memory.fill(a, 0, C << 3);
  const vectors = C >> 2;
  const a2 = a + (<usize>C << 2);
  for (let r = start; r < end; r++) {
    const offset = <usize>r * <usize>C << 2;
    let x = X + offset;
    let g = dY + offset;
    let k = mask + offset;
    let p = a;
    let q = a2;
    let m = center;
    const zero = f32x4.splat(0);
    for (let v = 0; v < vectors; v++) {
      let dy = v128.load(g);
      if (mask != 0) dy = v128.and(dy, f32x4.gt(v128.load(k), zero));
      k += 16;
      v128.store(p, f32x4.add(v128.load(p), dy));
      v128.store(q, f32x4.add(v128.load(q), f32x4.mul(dy, f32x4.sub(v128.load(x), v128.load(m)))));
      x += 16;
      g += 16;
      p += 16;
      q += 16;
      m += 16;
    }
    for (let c = vectors << 2; c < C; c++) {
      const dy: f32 = mask != 0 && load<f32>(k) <= 0 ? 0 : load<f32>(g);
      k += 4;
      store<f32>(p, load<f32>(p) + dy);
      store<f32>(q, load<f32>(q) + dy * (load<f32>(x) - load<f32>(m)));
      x += 4;
      g += 4;
      p += 4;
      q += 4;
      m += 4;
    }
    if ((r - start) % FLUSH_ROWS == FLUSH_ROWS - 1) flush(a, partial, 2 * C);
  }
  flush(a, partial, 2 * C);
}

/**
 * Y = X * scale + shift per channel; with `dY` non-zero, Y = dY * scale + X * scale2 + shift
 * (the input gradient of a batch norm), where dY counts only where mask > 0 if `mask` is
 * non-zero. With `relu`, negative results become 0.
 */
export function channelAffine(thread: i32, threads: i32, X: usize, dY: usize, Y: usize, rows: i32, C: i32, scale: usize, scale2: usize, shift: usize, relu: bool, mask: usize): void {
  const range = rowRange(thread, threads, rows);
  const start = <i32>(range >> 32);
  const end = <i32>range;
  const vectors = C >> 2;
  const zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const offset = <usize>r * <usize>C << 2;
    let x = X + offset;
    let y = Y + offset;
    let g = dY + offset;
    let k = mask + offset;
    let s = scale;
    let s2 = scale2;
    let b = shift;
    for (let v = 0; v < vectors; v++) {
      let input = v128.load(dY == 0 ? x : g);
      if (mask != 0) input = v128.and(input, f32x4.gt(v128.load(k), zero));
      k += 16;
      let out = f32x4.add(f32x4.mul(input, v128.load(s)), v128.load(b));
      if (dY != 0) out = f32x4.add(out, f32x4.mul(v128.load(x), v128.load(s2)));
      if (relu) out = f32x4.max(out, zero);
      v128.store(y, out);
      x += 16;
      y += 16;
      g += 16;
      s += 16;
      s2 += 16;
      b += 16;
    }
    for (let c = vectors << 2; c < C; c++) {
      const input: f32 = mask != 0 && load<f32>(k) <= 0 ? 0 : load<f32>(dY == 0 ? x : g);
      k += 4;
      let out = input * load<f32>(s) + load<f32>(b);
      if (dY != 0) out += load<f32>(x) * load<f32>(s2);
      if (relu && out < 0) out = 0;
      store<f32>(y, out);
      x += 4;
      y += 4;
      g += 4;
      s += 4;
      s2 += 4;
      b += 4;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The zero-padded shortcut of a pyramidal unit fused with its addition:
//   Y[n, i, j, c] = R[n, i, j, c] + (c < CI ? S[n, i, j, c] : 0)
// where S is X itself (stride 1) or X's 2x2 / stride-2 average with ceil mode (stride 2).

// @ts-ignore: decorator
@inline
function windowPixels(i: i32, H: i32): i32 {
  return 2 * i + 1 < H ? 2 : 1;
}

export function shortcutAdd(thread: i32, threads: i32, R: usize, X: usize, Y: usize, N: i32, OH: i32, OW: i32, CO: i32, H: i32, W: i32, CI: i32, stride: i32): void {
  const range = rowRange(thread, threads, N * OH);
  const start = <i32>(range >> 32);
  const end = <i32>range;
  const vectors = CI >> 2;
  for (let row = start; row < end; row++) {
    const n = row / OH;
    const i = row - n * OH;
    for (let j = 0; j < OW; j++) {
      const o = (<usize>((row * OW + j) * CO)) << 2;
      let r = R + o;
      let y = Y + o;
      if (stride == 1) {
        let x = X + ((<usize>(((n * H + i) * W + j) * CI)) << 2);
        for (let v = 0; v < vectors; v++) {
          v128.store(y, f32x4.add(v128.load(r), v128.load(x)));
          r += 16;
          y += 16;
          x += 16;
        }
        for (let c = vectors << 2; c < CI; c++) {
          store<f32>(y, load<f32>(r) + load<f32>(x));
          r += 4;
          y += 4;
          x += 4;
        }
      } else {
        const rowsIn = windowPixels(i, H);
        const colsIn = windowPixels(j, W);
        const inv = f32x4.splat(1.0 / <f32>(rowsIn * colsIn));
        const x00 = X + ((<usize>(((n * H + 2 * i) * W + 2 * j) * CI)) << 2);
        const x01 = colsIn == 2 ? x00 + (<usize>CI << 2) : 0;
        const x10 = rowsIn == 2 ? x00 + (<usize>(W * CI) << 2) : 0;
        const x11 = rowsIn == 2 && colsIn == 2 ? x10 + (<usize>CI << 2) : 0;
        for (let c = 0; c < CI; c += 4) {
          const lanes = min(4, CI - c);
          const off = <usize>c << 2;
          if (lanes == 4) {
            let s = v128.load(x00 + off);
            if (x01) s = f32x4.add(s, v128.load(x01 + off));
            if (x10) s = f32x4.add(s, v128.load(x10 + off));
            if (x11) s = f32x4.add(s, v128.load(x11 + off));
            v128.store(y + off, f32x4.add(v128.load(r + off), f32x4.mul(s, inv)));
          } else {
            for (let k = 0; k < lanes; k++) {
              const e = off + (<usize>k << 2);
              let s = load<f32>(x00 + e);
              if (x01) s += load<f32>(x01 + e);
              if (x10) s += load<f32>(x10 + e);
              if (x11) s += load<f32>(x11 + e);
              store<f32>(y + e, load<f32>(r + e) + s / <f32>(rowsIn * colsIn));
            }
          }
        }
        r += <usize>CI << 2;
        y += <usize>CI << 2;
      }
      const rest = CO - CI;
      if (rest > 0) memory.copy(y, r, <usize>rest << 2);
    }
  }
}

/** The shortcut's input gradient: dX[n, h, w, c] = dY at the output pixel covering (h, w), over its window size. */
export function shortcutGrad(thread: i32, threads: i32, dY: usize, dX: usize, N: i32, OH: i32, OW: i32, CO: i32, H: i32, W: i32, CI: i32, stride: i32): void {
  const range = rowRange(thread, threads, N * H);
  const start = <i32>(range >> 32);
  const end = <i32>range;
  const vectors = CI >> 2;
  for (let row = start; row < end; row++) {
    const n = row / H;
    const h = row - n * H;
    const i = stride == 1 ? h : h >> 1;
    for (let w = 0; w < W; w++) {
      const j = stride == 1 ? w : w >> 1;
      let g = dY + ((<usize>(((n * OH + i) * OW + j) * CO)) << 2);
      let d = dX + ((<usize>(((n * H + h) * W + w) * CI)) << 2);
      if (stride == 1) {
        memory.copy(d, g, <usize>CI << 2);
        continue;
      }
      const inv: f32 = 1.0 / <f32>(windowPixels(i, H) * windowPixels(j, W));
      const vinv = f32x4.splat(inv);
      for (let v = 0; v < vectors; v++) {
        v128.store(d, f32x4.mul(v128.load(g), vinv));
        d += 16;
        g += 16;
      }
      for (let c = vectors << 2; c < CI; c++) {
        store<f32>(d, load<f32>(g) * inv);
        d += 4;
        g += 4;
      }
    }
  }
}
