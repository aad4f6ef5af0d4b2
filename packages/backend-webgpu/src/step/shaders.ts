/**
 * WGSL of the compiled training step. Every tensor is NHWC float32; parameters, their gradients
 * and momentum live in flat buffers at offsets the plan assigns; a batch norm's per-step state
 * (mean, 1/std, and the scale and shift it applies) lives in one buffer at its `state` offset as
 * [mean C | invStd C | scale C | shift C]. Reductions run in a fixed order, so a step gives the
 * same bits every time.
 */

/**
 * Tiles of the implicit GEMMs, by the width of the output (its channels): 16 x 16 threads computing
 * 16 outputs each, 64 x 64, 128 x 32 or 256 x 16, so that narrow layers (PyramidNet's first stage
 * starts at 16 channels) do not leave three quarters of a 64-wide tile idle. `depth` values of the
 * reduction are staged in workgroup memory at a time (8 for the tallest tile, to stay within 16 KB).
 */
export interface Tile {
  rows: number;
  cols: number;
  depth: number;
}
export const TILES: readonly Tile[] = [
  { rows: 256, cols: 16, depth: 8 },
  { rows: 128, cols: 32, depth: 16 },
  { rows: 64, cols: 64, depth: 16 },
];

/** The narrowest tile that spans `cols` output columns, else the widest. */
export function tileFor(cols: number): Tile {
  return TILES.find((t) => cols <= t.cols) ?? TILES[TILES.length - 1];
}

/** Filter-gradient slices are whole multiples of this many pixels. */
export const SLICE_ALIGN = 16;
/** Threads of the per-channel reductions: 32 channels side by side, 8 lanes of rows each. */
export const REDUCE_CHANNELS = 32;
export const FLAT_WORKGROUP = 256;
/** Workgroups per row of a flat dispatch grid (WebGPU guarantees 65,535 per dimension). */
export const GRID_X = 32768;

/** By the bits: WGSL lets compilers assume floats are never NaN or infinite, so comparisons cannot tell. */
const FINITE = /* wgsl */ `
fn finite(v : f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }
`;

/**
 * Chan et al.'s pairwise update: the count, mean and sum of squared deviations (about the mean)
 * of two parts taken together, from each part's; it keeps the two-pass accuracy.
 */
const MERGE_STATS = /* wgsl */ `
fn mergeStats(a : vec3<f32>, b : vec3<f32>) -> vec3<f32> {
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let n = a.x + b.x;
  let delta = b.y - a.y;
  return vec3<f32>(n, a.y + delta * b.x / n, a.z + b.z + delta * delta * a.x * b.x / n);
}
`;

/** Lanes that combine a channel's statistics slices side by side: 8 of each of 32 channels. */
export const COMBINE_CHANNELS = 32;

/**
 * A batch norm's mean and biased variance, for channels c0 .. c0 + 31, from its statistics'
 * slices in `slicesOf` (each slice's mean and squared deviations about it, [slice][channel][2],
 * the slices `sliceRows` rows long, the last one short): the workgroup's 8 lanes of each channel
 * combine runs of consecutive slices, then the first lane combines the 8 runs in order, so that a
 * convolution epilogue's hundreds of slices are not one thread's serial chain. A fixed order, so
 * the same bits every time. Every thread of the workgroup calls it (it synchronizes them, through
 * 768 floats of the workgroup array named by `scratch`); the result is for the first lane's threads.
 */
const combineSlices = (scratch: string) => /* wgsl */ `
${MERGE_STATS}
fn combineSlices(tid : u32, c0 : u32, base : u32, slices : u32, sliceRows : u32, rows : u32, channels : u32) -> vec2<f32> {
  let lane = tid / ${COMBINE_CHANNELS}u;
  let c = c0 + tid % ${COMBINE_CHANNELS}u;
  let per = (slices + 7u) / 8u;
  var part = vec3<f32>(0.0, 0.0, 0.0);
  if (c < channels) {
    let last = min(slices, (lane + 1u) * per);
    for (var s = lane * per; s < last; s++) {
      let start = s * sliceRows;
      if (start >= rows) { break; }
      let at = base + (s * channels + c) * 2u;
      part = mergeStats(part, vec3<f32>(f32(min(sliceRows, rows - start)), slicesOf[at], slicesOf[at + 1u]));
    }
  }
  ${scratch}[3u * tid] = part.x;
  ${scratch}[3u * tid + 1u] = part.y;
  ${scratch}[3u * tid + 2u] = part.z;
  workgroupBarrier();
  var total = vec3<f32>(0.0, 0.0, 0.0);
  if (lane == 0u) {
    for (var l = 0u; l < 8u; l++) {
      let i = 3u * (l * ${COMBINE_CHANNELS}u + tid);
      total = mergeStats(total, vec3<f32>(${scratch}[i], ${scratch}[i + 1u], ${scratch}[i + 2u]));
    }
  }
  workgroupBarrier();
  return vec2<f32>(total.y, total.z / total.x);
}
`;

/**
 * A batch norm made final for channel c from its batch statistics (mean, biased variance): the
 * scale and shift its consumers apply, returned; with `write`, also stored in `state` as
 * [mean | 1/std | scale | shift], each `stride` long (its activations' padded channels, whose
 * entries stay zero so that padding channels stay zero through it), for the backward pass, with
 * the running statistics (unbiased variance) and the step's mark of a non-finite statistic (which
 * max(NaN, 0) downstream may hide).
 */
const FINALIZE_CHANNEL = /* wgsl */ `
fn finalizeChannel(c : u32, stride : u32, stats : vec2<f32>, rows : u32, epsilon : f32, momentum : f32, gamma : u32, beta : u32,
                   stateBase : u32, runningMean : u32, runningVar : u32, write : bool) -> vec2<f32> {
  let invStd = 1.0 / sqrt(stats.y + epsilon);
  let scale = param(gamma + c) * invStd;
  let shift = param(beta + c) - stats.x * scale;
  if (write) {
    state[stateBase + c] = stats.x;
    state[stateBase + stride + c] = invStd;
    state[stateBase + 2u * stride + c] = scale;
    state[stateBase + 3u * stride + c] = shift;
    running[runningMean + c] = (1.0 - momentum) * running[runningMean + c] + momentum * stats.x;
    running[runningVar + c] = (1.0 - momentum) * running[runningVar + c] + momentum * stats.y * f32(rows) / f32(rows - 1u);
    if (!finite(stats.x) || !finite(stats.y)) { results[2] = 1u; }
  }
  return vec2<f32>(scale, shift);
}
`;

/** Maximum input channels of a convolution that finalizes its batch norm in workgroup memory. */
export const MAX_PROLOGUE_CHANNELS = 768;

/**
 * A batch norm of the convolution's input made final by every workgroup, from the slices, into
 * workgroup memory (32 channels at a time, combineSlices using the GEMM's A tile, free until the
 * main loop); the first workgroup also writes it out (mean, 1/std, scale, shift, for the backward
 * pass) with the running statistics and the non-finite mark.
 */
const PROLOGUE_SETUP = /* wgsl */ `
var<workgroup> scaleOf : array<f32, ${MAX_PROLOGUE_CHANNELS}>;
var<workgroup> shiftOf : array<f32, ${MAX_PROLOGUE_CHANNELS}>;
fn prologueScale(ci : u32) -> f32 { if (u.finalize != 0u) { return scaleOf[ci]; } return state[u.bnState + 2u * u.inC + ci]; }
fn prologueShift(ci : u32) -> f32 { if (u.finalize != 0u) { return shiftOf[ci]; } return state[u.bnState + 3u * u.inC + ci]; }
${combineSlices('tileA')}
fn setup(tid : u32, first : bool) {
  if (u.finalize == 0u) { return; }
  let C = u.inReal;
  for (var c0 = 0u; c0 < C; c0 += ${COMBINE_CHANNELS}u) {
    let stats = combineSlices(tid, c0, u.stats, u.slices, u.sliceRows, u.statRows, C);
    let c = c0 + tid;
    if (tid < ${COMBINE_CHANNELS}u && c < C) {
      let applied = finalizeChannel(c, u.inC, stats, u.statRows, u.epsilon, u.momentum, u.gamma, u.beta, u.bnState, u.runningMean, u.runningVar, first);
      scaleOf[c] = applied.x;
      shiftOf[c] = applied.y;
    }
  }
  // Padding channels stay zero through the batch norm.
  for (var c = C + tid; c < u.inC; c += 256u) {
    scaleOf[c] = 0.0;
    shiftOf[c] = 0.0;
  }
}
`;

/** Pixel p of an NHWC tensor of the given height and width, as (image, row, column). */
const PIXEL = /* wgsl */ `
fn pixelOf(p : u32, height : u32, width : u32) -> vec3<u32> {
  let t = p / width;
  return vec3<u32>(t / height, t % height, p % width);
}
`;

const CONV_STRUCT = /* wgsl */ `
${PIXEL}
struct Conv {
  batch : u32, inH : u32, inW : u32, inC : u32,
  outH : u32, outW : u32, outC : u32, kernel : u32,
  stride : u32, pad : u32, rows : u32, cols : u32,
  depth : u32, chunk : u32, prologue : u32, wOffset : u32,
  // statsOut 1: the epilogue writes the statistics of the stored tile, as slice group.y at statsBase.
  bnState : u32, outOffset : u32, partialStride : u32, statsOut : u32,
  // The prologue's batch norm from its statistics' slices (finalize 1): where they are, and what it updates.
  finalize : u32, stats : u32, slices : u32, sliceRows : u32,
  statRows : u32, gamma : u32, beta : u32, runningMean : u32,
  runningVar : u32, epsilon : f32, momentum : f32, statsBase : u32,
  // inC and outC are the activations' padded channels (multiples of 4 but for the images); these the real ones.
  inReal : u32, outReal : u32, _a : u32, _b : u32,
}
@group(0) @binding(0) var<uniform> u : Conv;
`;

/**
 * The convolution's input at output pixel `pixel` and filter tap `tap` (kh, kw, ci), zero where
 * the window hangs over the edge; the preceding batch norm (and ReLU) applied as it is read
 * (prologue 1: scale and shift, 2: and ReLU), so its output is never stored. `wide`: the four
 * channels from ci (a multiple of 4) in one vec4 load, x bound as vec4s.
 */
const im2col = (wide: boolean) => {
  const type = wide ? 'vec4<f32>' : 'f32';
  const at = wide ? '/ 4u' : '';
  const [scale, shift] = ['prologueScale', 'prologueShift'].map((f) => (wide ? `vec4<f32>(${f}(ci), ${f}(ci + 1u), ${f}(ci + 2u), ${f}(ci + 3u))` : `${f}(ci)`));
  return /* wgsl */ `
fn im2col(pixel : u32, tap : u32) -> ${type} {
  let px = pixelOf(pixel, u.outH, u.outW);
  let n = px.x;
  let oh = px.y;
  let ow = px.z;
  let ci = tap % u.inC;
  let t2 = tap / u.inC;
  let kw = t2 % u.kernel;
  let kh = t2 / u.kernel;
  let ih = i32(oh * u.stride + kh) - i32(u.pad);
  let iw = i32(ow * u.stride + kw) - i32(u.pad);
  if (ih < 0 || iw < 0 || ih >= i32(u.inH) || iw >= i32(u.inW)) { return ${type}(0.0); }
  var v = x[(((n * u.inH + u32(ih)) * u.inW + u32(iw)) * u.inC + ci) ${at}];
  if (u.prologue != 0u) {
    v = v * ${scale} + ${shift};
    if (u.prologue == 2u) { v = max(v, ${type}(0.0)); }
  }
  return v;
}
`;
};

/**
 * How a GEMM side is loaded: which of its indices is contiguous in memory (so that neighbouring
 * threads load neighbouring words), and whether loadA / loadB return one value or a vec4 of four
 * consecutive ones along it (wide: the index is a multiple of 4, as is that dimension's extent).
 */
type Side = 'depth' | 'outer' | 'depth4' | 'outer4';

/**
 * Loads of a tile side: `count` x `depth` values of A (outer: rows) or B (outer: cols) into
 * `tile` [depth][count], zero outside the matrix.
 */
function tileLoads(name: 'A' | 'B', side: Side, count: number, depth: number, outer0: string, outerEnd: string): string {
  const load = `load${name}`;
  const target = `tile${name}`;
  const call = (o: string, d: string) => (name === 'A' ? `${load}(${outer0} + ${o}, d0 + ${d})` : `${load}(d0 + ${d}, ${outer0} + ${o})`);
  const valid = (o: string, d: string) => `d0 + ${d} < end && ${outer0} + ${o} < ${outerEnd}`;
  if (side === 'depth' || side === 'outer') {
    const index = side === 'depth' ? `let kk = e % ${depth}u; let oo = e / ${depth}u;` : `let oo = e % ${count}u; let kk = e / ${count}u;`;
    return `for (var e = tid; e < ${depth * count}u; e += 256u) {
      ${index}
      var v = 0.0;
      if (${valid('oo', 'kk')}) { v = ${call('oo', 'kk')}; }
      ${target}[kk * ${count}u + oo] = v;
    }`;
  }
  const index = side === 'depth4' ? `let kk = (e % ${depth / 4}u) * 4u; let oo = e / ${depth / 4}u;` : `let oo = (e % ${count / 4}u) * 4u; let kk = e / ${count / 4}u;`;
  const stores = [0, 1, 2, 3].map((i) => (side === 'depth4' ? `${target}[(kk + ${i}u) * ${count}u + oo] = v[${i}];` : `${target}[kk * ${count}u + oo + ${i}u] = v[${i}];`));
  return `for (var e = tid; e < ${(depth * count) / 4}u; e += 256u) {
      ${index}
      var v = vec4<f32>(0.0);
      if (${valid('oo', 'kk')}) { v = ${call('oo', 'kk')}; }
      ${stores.join(' ')}
    }`;
}

/**
 * A tiled GEMM C[rows, cols] = sum over depth of A[row, d] B[d, col] (one of TILES), split over workgroup z into
 * `chunk`-deep slices (each written whole, summed later in a fixed order), its sides loaded as `a` and `b` say.
 */
function gemm(loadA: string, loadB: string, store: string, a: Side, b: Side, tile: Tile, withSetup = false, withStatistics = false): string {
  const { rows: TM, cols: TN, depth: TK } = tile;
  // The A tile doubles as the combine's scratch before the main loop and the statistics' after it.
  if (TK * TM < Math.max(3 * 8 * COMBINE_CHANNELS, 16 * TN)) throw new Error(`tile ${TM}x${TN}x${TK}: its A tile is too small for the batch norms' statistics`);
  const perRow = TM / 16;
  const perCol = TN / 16;
  // The 16 accumulators and their multiply-adds written out with constant indices: a private array
  // indexed in loops may be left in memory by a shader compiler that does not unroll them.
  const cells = Array.from({ length: perRow * perCol }, (_, i) => ({ r: Math.floor(i / perCol), c: i % perCol, i }));
  const accumulators = cells.map(({ i }) => `var acc${i} = 0.0;`).join(' ');
  const multiplyAdds = [
    ...Array.from({ length: perRow }, (_, r) => `let a${r} = tileA[aBase + ${r}u];`),
    ...Array.from({ length: perCol }, (_, c) => `let b${c} = tileB[bBase + ${c}u];`),
    ...cells.map(({ r, c, i }) => `acc${i} = fma(a${r}, b${c}, acc${i});`),
  ].join('\n      ');
  const stores = cells
    .map(({ r, c, i }) => `if (rowBase + ${r}u < u.rows && colBase + ${c}u < u.cols) { store(rowBase + ${r}u, colBase + ${c}u, group.z, acc${i}); }`)
    .join('\n  ');
  const columns = Array.from({ length: perCol }, (_, c) => c);
  const stored = (r: number) => `rowBase + ${r}u < u.rows`;
  const columnSum = (slot: string) => `
      var total = 0.0;
      for (var t = 0u; t < 16u; t++) { total += tileA[t * ${TN}u + ${slot}]; }`;
  // The statistics of the tile just stored, per column: its rows' mean, then their squared
  // deviations about it (two passes, as the statistics slices' kernel), the 16 row threads' parts
  // added in order through the A tile (free after the main loop) and the means kept in the B tile.
  const statistics = /* wgsl */ `
  if (u.statsOut != 0u) {
    ${columns.map((c) => `var sum${c} = 0.0;`).join(' ')}
    ${cells.map(({ r, c, i }) => `if (${stored(r)}) { sum${c} += acc${i}; }`).join('\n    ')}
    ${columns.map((c) => `tileA[local.y * ${TN}u + local.x * ${perCol}u + ${c}u] = sum${c};`).join('\n    ')}
    workgroupBarrier();
    if (tid < ${TN}u) {${columnSum('tid')}
      tileB[tid] = total / f32(min(${TM}u, u.rows - row0));
    }
    workgroupBarrier();
    ${columns.map((c) => `let mean${c} = tileB[local.x * ${perCol}u + ${c}u]; var sq${c} = 0.0;`).join('\n    ')}
    ${cells.map(({ r, c, i }) => `if (${stored(r)}) { let d = acc${i} - mean${c}; sq${c} += d * d; }`).join('\n    ')}
    ${columns.map((c) => `tileA[local.y * ${TN}u + local.x * ${perCol}u + ${c}u] = sq${c};`).join('\n    ')}
    workgroupBarrier();
    if (tid < ${TN}u && col0 + tid < u.outReal) {${columnSum('tid')}
      let at = u.statsBase + (group.y * u.outReal + col0 + tid) * 2u;
      slicesOf[at] = tileB[tid];
      slicesOf[at + 1u] = total;
    }
  }`;
  return /* wgsl */ `
${loadA}
${loadB}
${store}
var<workgroup> tileA : array<f32, ${TK * TM}>;
var<workgroup> tileB : array<f32, ${TK * TN}>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) group : vec3<u32>, @builtin(local_invocation_id) local : vec3<u32>) {
  let tid = local.y * 16u + local.x;
  ${withSetup ? 'setup(tid, group.x == 0u && group.y == 0u && group.z == 0u);\n  workgroupBarrier();' : ''}
  let row0 = group.y * ${TM}u;
  let col0 = group.x * ${TN}u;
  let begin = group.z * u.chunk;
  let end = min(begin + u.chunk, u.depth);
  ${accumulators}
  for (var d0 = begin; d0 < end; d0 += ${TK}u) {
    ${tileLoads('A', a, TM, TK, 'row0', 'u.rows')}
    ${tileLoads('B', b, TN, TK, 'col0', 'u.cols')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      let aBase = kk * ${TM}u + local.y * ${perRow}u;
      let bBase = kk * ${TN}u + local.x * ${perCol}u;
      ${multiplyAdds}
    }
    workgroupBarrier();
  }
  let rowBase = row0 + local.y * ${perRow}u;
  let colBase = col0 + local.x * ${perCol}u;
  ${stores}${withStatistics ? statistics : ''}
}
`;
}

/**
 * y[pixel, co] = sum over taps of im2col(x)[pixel, tap] w[tap, co]: rows are output pixels. With
 * statsOut, each workgroup also writes its tile's per-channel mean and squared deviations, the
 * slice group.y of the following batch norm's statistics: no pass of its own reads y again.
 */
export const convForward = (tile: Tile, wide: boolean) => /* wgsl */ `
${CONV_STRUCT}
@group(0) @binding(1) var<storage, read> x : array<${wide ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> params : array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> state : array<f32>;
@group(0) @binding(4) var<storage, read_write> y : array<f32>;
@group(0) @binding(5) var<storage, read_write> slicesOf : array<f32>;
@group(0) @binding(6) var<storage, read_write> running : array<f32>;
@group(0) @binding(7) var<storage, read_write> results : array<u32>;
fn param(i : u32) -> f32 { return params[i / 4u][i % 4u]; }
${FINITE}
${FINALIZE_CHANNEL}
${PROLOGUE_SETUP}
${im2col(wide)}
${gemm(
  `fn loadA(row : u32, d : u32) -> ${wide ? 'vec4<f32>' : 'f32'} { return im2col(row, d); }`,
  'fn loadB(d : u32, col : u32) -> vec4<f32> { return params[(u.wOffset + d * u.outC + col) / 4u]; }',
  'fn store(row : u32, col : u32, split : u32, v : f32) { y[row * u.outC + col] = v; }',
  wide ? 'depth4' : 'depth',
  'outer4',
  tile,
  true,
  true,
)}
`;

/**
 * dx[pixel, ci] = sum over (kh, kw, co) of dy[n, oh, ow, co] w[kh, kw, ci, co] where
 * oh * stride = ih + pad - kh: rows are input pixels, depth runs over the taps and output channels.
 */
export const convBackwardData = (tile: Tile) => /* wgsl */ `
${CONV_STRUCT}
@group(0) @binding(1) var<storage, read> dy : array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> params : array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx : array<f32>;
fn loadA(row : u32, d : u32) -> vec4<f32> {
  let px = pixelOf(row, u.inH, u.inW);
  let n = px.x;
  let ih = px.y;
  let iw = px.z;
  let co = d % u.outC;
  let t2 = d / u.outC;
  let kw = t2 % u.kernel;
  let kh = t2 / u.kernel;
  let th = i32(ih + u.pad) - i32(kh);
  let tw = i32(iw + u.pad) - i32(kw);
  if (th < 0 || tw < 0) { return vec4<f32>(0.0); }
  if (u32(th) % u.stride != 0u || u32(tw) % u.stride != 0u) { return vec4<f32>(0.0); }
  let oh = u32(th) / u.stride;
  let ow = u32(tw) / u.stride;
  if (oh >= u.outH || ow >= u.outW) { return vec4<f32>(0.0); }
  return dy[(((n * u.outH + oh) * u.outW + ow) * u.outC + co) / 4u];
}
${gemm(
  '',
  `fn loadB(d : u32, col : u32) -> vec4<f32> {
  let co = d % u.outC;
  let tap = d / u.outC;
  return params[(u.wOffset + (tap * u.inC + col) * u.outC + co) / 4u];
}`,
  'fn store(row : u32, col : u32, split : u32, v : f32) { dx[row * u.inC + col] = v; }',
  'depth4',
  'depth4',
  tile,
)}
`;

/**
 * dw[tap, co] = sum over output pixels of im2col(x)[pixel, tap] dy[pixel, co], the pixels split
 * into `chunk`-long slices, each slice's sums written to its own copy of the gradient (split-K,
 * summed in order by the SGD kernel): deterministic, and parallel however few taps there are.
 */
export const convBackwardFilter = (tile: Tile, wide: boolean) => /* wgsl */ `
${CONV_STRUCT}
@group(0) @binding(1) var<storage, read> x : array<${wide ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> dy : array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> state : array<f32>;
@group(0) @binding(4) var<storage, read_write> partials : array<f32>;
fn prologueScale(ci : u32) -> f32 { return state[u.bnState + 2u * u.inC + ci]; }
fn prologueShift(ci : u32) -> f32 { return state[u.bnState + 3u * u.inC + ci]; }
${im2col(wide)}
${gemm(
  `fn loadA(row : u32, d : u32) -> ${wide ? 'vec4<f32>' : 'f32'} { return im2col(d, row); }`,
  'fn loadB(d : u32, col : u32) -> vec4<f32> { return dy[(d * u.outC + col) / 4u]; }',
  'fn store(row : u32, col : u32, split : u32, v : f32) { partials[split * u.partialStride + u.outOffset + row * u.outC + col] = v; }',
  wide ? 'outer4' : 'outer',
  'outer4',
  tile,
)}
`;


const REDUCE_HEADER = /* wgsl */ `
var<workgroup> lanes : array<f32, 256>;
/** The sum of v over the 8 lanes of this thread's channel, in lane order, for every thread. */
fn laneSum(tid : u32, v : f32) -> f32 {
  lanes[tid] = v;
  workgroupBarrier();
  var total = 0.0;
  for (var l = 0u; l < 8u; l++) { total += lanes[l * 32u + tid % 32u]; }
  workgroupBarrier();
  return total;
}
`;

/**
 * Batch statistics of x [rows, C] in slices of `sliceRows` rows, a workgroup per 32 channels and
 * slice: each slice's mean, then its sum of squared deviations about that mean (two passes, as
 * PyTorch's CPU kernel). Their consumer combines the slices in order (combineSlices).
 */
export const BATCH_NORM_SLICES = /* wgsl */ `
struct Slices { rows : u32, channels : u32, sliceRows : u32, base : u32, stride : u32, _a : u32, _b : u32, _c : u32 }
@group(0) @binding(0) var<uniform> u : Slices;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> slicesOf : array<f32>;
${REDUCE_HEADER}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group : vec3<u32>, @builtin(local_invocation_index) tid : u32) {
  let lane = tid / 32u;
  let cl = tid % 32u;
  let c = group.x * 32u + cl;
  let inRange = c < u.channels;
  let start = group.y * u.sliceRows;
  let end = min(start + u.sliceRows, u.rows);
  var s = 0.0;
  if (inRange) { for (var r = start + lane; r < end; r += 8u) { s += x[r * u.stride + c]; } }
  let total = laneSum(tid, s);
  let count = f32(max(end, start) - start);
  let mean = total / max(count, 1.0);
  var q = 0.0;
  if (inRange) { for (var r = start + lane; r < end; r += 8u) { let d = x[r * u.stride + c] - mean; q += d * d; } }
  let sq = laneSum(tid, q);
  if (lane == 0u && inRange) {
    slicesOf[u.base + (group.y * u.channels + c) * 2u] = mean;
    slicesOf[u.base + (group.y * u.channels + c) * 2u + 1u] = sq;
  }
}
`;

/**
 * A batch norm made final from its slices, a workgroup per 32 channels (combineSlices,
 * FINALIZE_CHANNEL), for batch norms whose consumer does not finalize them itself.
 */
export const BATCH_NORM_FINALIZE = /* wgsl */ `
struct Finalize {
  rows : u32, channels : u32, epsilon : f32, momentum : f32,
  state : u32, gamma : u32, beta : u32, runningMean : u32,
  runningVar : u32, stats : u32, slices : u32, sliceRows : u32,
  stride : u32, _a : u32, _b : u32, _c : u32,
}
@group(0) @binding(0) var<uniform> u : Finalize;
@group(0) @binding(1) var<storage, read> slicesOf : array<f32>;
@group(0) @binding(2) var<storage, read> params : array<f32>;
@group(0) @binding(3) var<storage, read_write> state : array<f32>;
@group(0) @binding(4) var<storage, read_write> running : array<f32>;
@group(0) @binding(5) var<storage, read_write> results : array<u32>;
var<workgroup> scratch : array<f32, ${3 * 8 * COMBINE_CHANNELS}>;
fn param(i : u32) -> f32 { return params[i]; }
${FINITE}
${combineSlices('scratch')}
${FINALIZE_CHANNEL}
@compute @workgroup_size(${8 * COMBINE_CHANNELS})
fn main(@builtin(workgroup_id) group : vec3<u32>, @builtin(local_invocation_index) tid : u32) {
  let c0 = group.x * ${COMBINE_CHANNELS}u;
  let stats = combineSlices(tid, c0, u.stats, u.slices, u.sliceRows, u.rows, u.channels);
  let c = c0 + tid;
  if (tid < ${COMBINE_CHANNELS}u && c < u.channels) {
    _ = finalizeChannel(c, u.stride, stats, u.rows, u.epsilon, u.momentum, u.gamma, u.beta, u.state, u.runningMean, u.runningVar, true);
  }
}
`;

/** The uniforms shared by the batch norm's backward kernels. */
const BN_BACKWARD_STRUCT = /* wgsl */ `
struct BnBackward {
  rows : u32, channels : u32, dyMode : u32, spatial : u32,
  relu : u32, state : u32, gamma : u32, beta : u32,
  shortcut : u32, height : u32, width : u32, gChannels : u32,
  slices : u32, sliceRows : u32, base : u32, applyRows : u32,
  // x's, dy's (mode 0) and dx's padded channels, and the state's stride.
  stride : u32, _a : u32, _b : u32, _c : u32,
}
@group(0) @binding(0) var<uniform> u : BnBackward;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> dy : array<f32>;
@group(0) @binding(3) var<storage, read> state : array<f32>;
/**
 * The gradient at the batch norm's output (row r, channel c): dy itself (mode 0), or the global
 * average pool's, dy[n, c] / (H W) (mode 1); zero where the ReLU after it was off.
 */
fn outputGrad(r : u32, c : u32, v : f32) -> f32 {
  var g : f32;
  if (u.dyMode == 0u) { g = dy[r * u.stride + c]; } else { g = dy[(r / u.spatial) * u.channels + c] / f32(u.spatial); }
  if (u.relu != 0u && v * state[u.state + 2u * u.stride + c] + state[u.state + 3u * u.stride + c] <= 0.0) { g = 0.0; }
  return g;
}
`;

/**
 * Per channel and slice of `sliceRows` rows (a workgroup per 32 channels and slice): the sums of
 * dy and of dy xhat, into `sums` as [slice][channel][2]; the apply kernel adds the slices up.
 */
export const BATCH_NORM_BACKWARD_REDUCE = /* wgsl */ `
${BN_BACKWARD_STRUCT}
@group(0) @binding(4) var<storage, read_write> sums : array<f32>;
${REDUCE_HEADER}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group : vec3<u32>, @builtin(local_invocation_index) tid : u32) {
  let lane = tid / 32u;
  let cl = tid % 32u;
  let c = group.x * 32u + cl;
  let start = group.y * u.sliceRows;
  let end = min(start + u.sliceRows, u.rows);
  var sumDy = 0.0;
  var sumDyXhat = 0.0;
  if (c < u.channels) {
    let mean = state[u.state + c];
    let invStd = state[u.state + u.stride + c];
    for (var r = start + lane; r < end; r += 8u) {
      let v = x[r * u.stride + c];
      let g = outputGrad(r, c, v);
      sumDy += g;
      sumDyXhat += g * (v - mean) * invStd;
    }
  }
  let a = laneSum(tid, sumDy);
  let b = laneSum(tid, sumDyXhat);
  if (lane == 0u && c < u.channels) {
    sums[u.base + (group.y * u.channels + c) * 2u] = a;
    sums[u.base + (group.y * u.channels + c) * 2u + 1u] = b;
  }
}
`;

/**
 * dx = gamma invStd (dy - mean(dy) - xhat mean(dy xhat)), plus, for a unit's first batch norm,
 * the gradient the zero-padded shortcut passes back to the same input: the unit output's
 * gradient g at the first channels (shortcut 1), or its 2x2 average pool's (shortcut 2, ceil mode:
 * an edge window averages only the pixels it covers). A workgroup per 32 channels and `applyRows`
 * rows first adds up its channels' slice sums (in slice order); the first row of workgroups also
 * writes them as the scale's and shift's gradients.
 */
export const BATCH_NORM_BACKWARD_APPLY = /* wgsl */ `
${PIXEL}
${BN_BACKWARD_STRUCT}
@group(0) @binding(4) var<storage, read> sums : array<f32>;
@group(0) @binding(5) var<storage, read> params : array<f32>;
@group(0) @binding(6) var<storage, read> g : array<f32>;
@group(0) @binding(7) var<storage, read_write> dx : array<f32>;
@group(0) @binding(8) var<storage, read_write> grads : array<f32>;
var<workgroup> totalDy : array<f32, 32>;
var<workgroup> totalDyXhat : array<f32, 32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group : vec3<u32>, @builtin(local_invocation_index) tid : u32) {
  let lane = tid / 32u;
  let cl = tid % 32u;
  let c = group.x * 32u + cl;
  let C = u.channels;
  if (lane == 0u && c < C) {
    var a = 0.0;
    var b = 0.0;
    for (var s = 0u; s < u.slices; s++) { a += sums[u.base + (s * C + c) * 2u]; b += sums[u.base + (s * C + c) * 2u + 1u]; }
    totalDy[cl] = a;
    totalDyXhat[cl] = b;
    if (group.y == 0u) {
      grads[u.beta + c] = a;
      grads[u.gamma + c] = b;
    }
  }
  workgroupBarrier();
  let start = group.y * u.applyRows;
  let end = min(start + u.applyRows, u.rows);
  if (c >= C) {
    // Padding channels: zero, as the filter gradients that read dx as their dy need (its buffer is reused).
    if (c < u.stride) { for (var r = start + lane; r < end; r += 8u) { dx[r * u.stride + c] = 0.0; } }
    return;
  }
  let mean = state[u.state + c];
  let invStd = state[u.state + u.stride + c];
  let count = f32(u.rows);
  let meanDy = totalDy[cl] / count;
  let meanDyXhat = totalDyXhat[cl] / count;
  let factor = params[u.gamma + c] * invStd;
  for (var r = start + lane; r < end; r += 8u) {
    let index = r * u.stride + c;
    let v = x[index];
    let xhat = (v - mean) * invStd;
    var d = factor * (outputGrad(r, c, v) - meanDy - xhat * meanDyXhat);
    if (u.shortcut == 1u) {
      d += g[r * u.gChannels + c];
    } else if (u.shortcut == 2u) {
      let px = pixelOf(r, u.height, u.width);
      let n = px.x;
      let h = px.y;
      let w = px.z;
      let gh = (u.height + 1u) / 2u;
      let gw = (u.width + 1u) / 2u;
      var cover = 4.0;
      if (h / 2u == gh - 1u && u.height % 2u == 1u) { cover = cover / 2.0; }
      if (w / 2u == gw - 1u && u.width % 2u == 1u) { cover = cover / 2.0; }
      d += g[((n * gh + h / 2u) * gw + w / 2u) * u.gChannels + c] / cover;
    }
    dx[index] = d;
  }
}
`;

const FLAT_INDEX = `let index = id.y * ${GRID_X * FLAT_WORKGROUP}u + id.x;`;

/** y = x scale + shift (and ReLU): a batch norm whose output has consumers that cannot apply it. */
export const BATCH_NORM_APPLY = /* wgsl */ `
struct Apply { size : u32, channels : u32, state : u32, relu : u32 }
@group(0) @binding(0) var<uniform> u : Apply;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> state : array<f32>;
@group(0) @binding(3) var<storage, read_write> y : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.size) { return; }
  let c = index % u.channels;
  var v = x[index] * state[u.state + 2u * u.channels + c] + state[u.state + 3u * u.channels + c];
  if (u.relu != 0u) { v = max(v, 0.0); }
  y[index] = v;
}
`;

/**
 * The ImageNet stem's max pool (3x3, stride 2, padding 1): the uniforms of both directions, and
 * the pooled value at an input pixel, its batch norm (and ReLU) applied as it is read, so that the
 * batch norm's output is never stored and the backward pass recomputes it with the same arithmetic.
 */
const STEM_POOL = /* wgsl */ `
${PIXEL}
struct Pool {
  size : u32, stride : u32, channels : u32, state : u32,
  relu : u32, inH : u32, inW : u32, outH : u32,
  outW : u32, gStride : u32, _a : u32, _b : u32,
}
@group(0) @binding(0) var<uniform> u : Pool;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> state : array<f32>;
fn activated(n : u32, h : u32, w : u32, c : u32) -> f32 {
  var v = x[((n * u.inH + h) * u.inW + w) * u.stride + c] * state[u.state + 2u * u.stride + c] + state[u.state + 3u * u.stride + c];
  if (u.relu != 0u) { v = max(v, 0.0); }
  return v;
}
/**
 * Where window (oh, ow) takes its maximum, as h * inW + w: the first strictly greatest value in
 * row-major order, padding left out (never chosen), as tfjs's and PyTorch's CPU kernels choose.
 */
fn argmax(n : u32, oh : u32, ow : u32, c : u32) -> u32 {
  var best = 0.0;
  var at = 0xffffffffu;
  for (var i = 0u; i < 3u; i++) {
    let h = i32(oh * 2u + i) - 1;
    if (h < 0 || h >= i32(u.inH)) { continue; }
    for (var j = 0u; j < 3u; j++) {
      let w = i32(ow * 2u + j) - 1;
      if (w < 0 || w >= i32(u.inW)) { continue; }
      let v = activated(n, u32(h), u32(w), c);
      if (at == 0xffffffffu || v > best) { best = v; at = u32(h) * u.inW + u32(w); }
    }
  }
  return at;
}
`;

/** y = the stem's max pool of its batch norm's (and ReLU's) output x; padding channels stay zero. */
export const STEM_MAX_POOL = /* wgsl */ `
${STEM_POOL}
@group(0) @binding(3) var<storage, read_write> y : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.size) { return; }
  let c = index % u.stride;
  let out = pixelOf(index / u.stride, u.outH, u.outW);
  let at = argmax(out.x, out.y, out.z, c);
  let n = out.x;
  y[index] = activated(n, at / u.inW, at % u.inW, c);
}
`;

/**
 * The gradient at the stem pool's input from g at its output, gathered per input pixel over the
 * (at most 2 x 2) windows that hold it, each window's argmax recomputed: a window's gradient goes
 * to its maximum alone, summed over windows in order of output row, then column (tfjs's CPU
 * order), without atomics. Zero in the padding channels.
 */
export const STEM_MAX_POOL_BACKWARD = /* wgsl */ `
${STEM_POOL}
@group(0) @binding(3) var<storage, read> g : array<f32>;
@group(0) @binding(4) var<storage, read_write> dx : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.size) { return; }
  let c = index % u.stride;
  let px = pixelOf(index / u.stride, u.inH, u.inW);
  let n = px.x;
  let h = px.y;
  let w = px.z;
  var sum = 0.0;
  if (c < u.channels) {
    // Window oh holds rows 2 oh - 1 .. 2 oh + 1.
    let ohFirst = h / 2u;
    let ohLast = min((h + 1u) / 2u, u.outH - 1u);
    let owFirst = w / 2u;
    let owLast = min((w + 1u) / 2u, u.outW - 1u);
    let here = h * u.inW + w;
    for (var oh = ohFirst; oh <= ohLast; oh++) {
      for (var ow = owFirst; ow <= owLast; ow++) {
        if (argmax(n, oh, ow, c) == here) { sum += g[((n * u.outH + oh) * u.outW + ow) * u.gStride + c]; }
      }
    }
  }
  dx[index] = sum;
}
`;

/**
 * A unit's output: the residual branch's last value (with its batch norm applied, mode 1, or
 * with ReLU too, mode 2) plus the zero-padded shortcut of the unit's input x (2x2 average pool,
 * ceil mode, when the unit downsamples).
 */
export const RESIDUAL_ADD = /* wgsl */ `
${PIXEL}
struct Add {
  size : u32, outC : u32, outH : u32, outW : u32,
  inC : u32, inH : u32, inW : u32, stride : u32,
  branchBn : u32, state : u32, inStride : u32, _b : u32,
}
@group(0) @binding(0) var<uniform> u : Add;
@group(0) @binding(1) var<storage, read> branch : array<f32>;
@group(0) @binding(2) var<storage, read> x : array<f32>;
@group(0) @binding(3) var<storage, read> state : array<f32>;
@group(0) @binding(4) var<storage, read_write> y : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.size) { return; }
  let c = index % u.outC;
  let p = index / u.outC;
  var v = branch[index];
  if (u.branchBn != 0u) {
    v = v * state[u.state + 2u * u.outC + c] + state[u.state + 3u * u.outC + c];
    if (u.branchBn == 2u) { v = max(v, 0.0); }
  }
  if (c < u.inC) {
    let px = pixelOf(p, u.outH, u.outW);
    let n = px.x;
    let oh = px.y;
    let ow = px.z;
    if (u.stride == 1u) {
      v += x[p * u.inStride + c];
    } else {
      var sum = 0.0;
      var cover = 0.0;
      for (var i = 0u; i < 2u; i++) {
        for (var j = 0u; j < 2u; j++) {
          let h = oh * 2u + i;
          let w = ow * 2u + j;
          if (h < u.inH && w < u.inW) { sum += x[((n * u.inH + h) * u.inW + w) * u.inStride + c]; cover += 1.0; }
        }
      }
      v += sum / cover;
    }
  }
  y[index] = v;
}
`;

/** pooled[n, c] = mean over the pixels of ReLU(x scale + shift): the head's batch norm, ReLU and pool. */
export const GLOBAL_MEAN = /* wgsl */ `
struct Mean { batch : u32, channels : u32, spatial : u32, state : u32, stride : u32, _a : u32, _b : u32, _c : u32 }
@group(0) @binding(0) var<uniform> u : Mean;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> state : array<f32>;
@group(0) @binding(3) var<storage, read_write> pooled : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.batch * u.channels) { return; }
  let c = index % u.channels;
  let n = index / u.channels;
  let scale = state[u.state + 2u * u.stride + c];
  let shift = state[u.state + 3u * u.stride + c];
  var sum = 0.0;
  for (var p = 0u; p < u.spatial; p++) { sum += max(x[(n * u.spatial + p) * u.stride + c] * scale + shift, 0.0); }
  pooled[index] = sum / f32(u.spatial);
}
`;

/**
 * The classifier, softmax cross-entropy with label smoothing (target (1 - eps) one-hot + eps / K)
 * and its gradient (softmax - target) / batch, in one workgroup: logits go to `dlogits` and are
 * overwritten by their gradient. results[0] = mean loss (bits), [1] = 1 when it and every batch
 * statistic were finite ([2] marks a statistic that was not), then the argmax of every row (the
 * first of equal maxima, as tf.argMax).
 */
export const SOFTMAX_CROSS_ENTROPY = /* wgsl */ `
struct Loss { batch : u32, features : u32, classes : u32, smoothing : f32, weight : u32, bias : u32, _a : u32, _b : u32 }
@group(0) @binding(0) var<uniform> u : Loss;
@group(0) @binding(1) var<storage, read> pooled : array<f32>;
@group(0) @binding(2) var<storage, read> params : array<f32>;
@group(0) @binding(3) var<storage, read> labels : array<i32>;
@group(0) @binding(4) var<storage, read_write> dlogits : array<f32>;
@group(0) @binding(5) var<storage, read_write> results : array<u32>;
var<workgroup> losses : array<f32, 256>;
${FINITE}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid : u32) {
  let K = u.classes;
  var mine = 0.0;
  for (var n = tid; n < u.batch; n += 256u) {
    var best = 0u;
    var top = 0.0;
    for (var j = 0u; j < K; j++) {
      var z = params[u.bias + j];
      for (var c = 0u; c < u.features; c++) { z = fma(pooled[n * u.features + c], params[u.weight + c * K + j], z); }
      dlogits[n * K + j] = z;
      if (z > top || j == 0u) { top = z; best = j; }
    }
    var sumExp = 0.0;
    for (var j = 0u; j < K; j++) { sumExp += exp(dlogits[n * K + j] - top); }
    let logSum = log(sumExp) + top;
    let label = u32(labels[n]);
    var loss = 0.0;
    for (var j = 0u; j < K; j++) {
      var want = u.smoothing / f32(K);
      if (j == label) { want += 1.0 - u.smoothing; }
      let z = dlogits[n * K + j];
      loss -= want * (z - logSum);
      dlogits[n * K + j] = (exp(z - logSum) - want) / f32(u.batch);
    }
    mine += loss;
    results[3u + n] = best;
  }
  losses[tid] = mine;
  workgroupBarrier();
  if (tid == 0u) {
    var total = 0.0;
    for (var i = 0u; i < 256u; i++) { total += losses[i]; }
    let mean = total / f32(u.batch);
    results[0] = bitcast<u32>(mean);
    results[1] = select(0u, 1u, finite(mean) && results[2] == 0u);
  }
}
`;

/**
 * The classifier's gradients in one dispatch: dW[c, j] = sum_n pooled[n, c] dlogits[n, j], then
 * db[j] = sum_n dlogits[n, j], then dpooled[n, c] = sum_j dlogits[n, j] W[c, j].
 */
export const CLASSIFIER_BACKWARD = /* wgsl */ `
struct Fc { batch : u32, features : u32, classes : u32, weight : u32, bias : u32, _a : u32, _b : u32, _c : u32 }
@group(0) @binding(0) var<uniform> u : Fc;
@group(0) @binding(1) var<storage, read> pooled : array<f32>;
@group(0) @binding(2) var<storage, read> dlogits : array<f32>;
@group(0) @binding(3) var<storage, read> params : array<f32>;
@group(0) @binding(4) var<storage, read_write> grads : array<f32>;
@group(0) @binding(5) var<storage, read_write> dpooled : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  let K = u.classes;
  let F = u.features;
  if (index < F * K) {
    let c = index / K;
    let j = index % K;
    var s = 0.0;
    for (var n = 0u; n < u.batch; n++) { s = fma(pooled[n * F + c], dlogits[n * K + j], s); }
    grads[u.weight + index] = s;
  } else if (index < F * K + K) {
    let j = index - F * K;
    var s = 0.0;
    for (var n = 0u; n < u.batch; n++) { s += dlogits[n * K + j]; }
    grads[u.bias + j] = s;
  } else if (index < F * K + K + u.batch * F) {
    let i = index - F * K - K;
    let n = i / F;
    let c = i % F;
    var s = 0.0;
    for (var j = 0u; j < K; j++) { s = fma(dlogits[n * K + j], params[u.weight + c * K + j], s); }
    dpooled[i] = s;
  }
}
`;

/** Ranges of the flat parameters that share a weight decay and learning-rate scale. */
export const SGD_RANGES = 8;

/**
 * SGD as torch.optim.SGD over every parameter in one dispatch, skipped when the loss was not
 * finite. A convolution weight's gradient is the sum, in order, of its split-K slices.
 *   g = grad + weightDecay p;  b' = first ? g : momentum b + (1 - dampening) g;
 *   p' = p - lr scale (nesterov ? g + momentum b' : b')
 */
export const SGD = /* wgsl */ `
struct Range { end : u32, weightDecay : f32, lrScale : f32, _a : u32 }
struct Sgd {
  total : u32, convTotal : u32, splits : u32, first : u32,
  nesterov : u32, lr : f32, momentum : f32, keep : f32,
  ranges : array<Range, ${SGD_RANGES}>,
}
@group(0) @binding(0) var<uniform> u : Sgd;
@group(0) @binding(1) var<storage, read_write> params : array<f32>;
@group(0) @binding(2) var<storage, read> grads : array<f32>;
@group(0) @binding(3) var<storage, read> partials : array<f32>;
@group(0) @binding(4) var<storage, read_write> momentum : array<f32>;
@group(0) @binding(5) var<storage, read> results : array<u32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.total || results[1] == 0u) { return; }
  var slot = 0u;
  for (var i = 0u; i < ${SGD_RANGES}u; i++) { if (index >= u.ranges[i].end) { slot = i + 1u; } }
  let p = params[index];
  var grad = 0.0;
  if (index < u.convTotal) {
    for (var s = 0u; s < u.splits; s++) { grad += partials[s * u.convTotal + index]; }
  } else {
    grad = grads[index];
  }
  let g = grad + u.ranges[slot].weightDecay * p;
  var b = g;
  if (u.first == 0u) { b = u.momentum * momentum[index] + u.keep * g; }
  momentum[index] = b;
  var delta = b;
  if (u.nesterov != 0u) { delta = g + u.momentum * b; }
  params[index] = p - u.lr * u.ranges[slot].lrScale * delta;
}
`;

/** Eval mode: a batch norm's scale and shift from its running statistics (run when weights load). */
export const BATCH_NORM_EVAL_STATE = /* wgsl */ `
struct Eval { channels : u32, state : u32, gamma : u32, beta : u32, runningMean : u32, runningVar : u32, epsilon : f32, stride : u32 }
@group(0) @binding(0) var<uniform> u : Eval;
@group(0) @binding(1) var<storage, read> params : array<f32>;
@group(0) @binding(2) var<storage, read> running : array<f32>;
@group(0) @binding(3) var<storage, read_write> state : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  let c = id.x;
  if (c >= u.channels) { return; }
  let C = u.stride;
  let mean = running[u.runningMean + c];
  let invStd = 1.0 / sqrt(running[u.runningVar + c] + u.epsilon);
  let scale = params[u.gamma + c] * invStd;
  state[u.state + c] = mean;
  state[u.state + C + c] = invStd;
  state[u.state + 2u * C + c] = scale;
  state[u.state + 3u * C + c] = params[u.beta + c] - mean * scale;
}
`;

/** logits[n, j] = b[j] + sum_c pooled[n, c] W[c, j]. */
export const CLASSIFIER = /* wgsl */ `
struct Fc { batch : u32, features : u32, classes : u32, weight : u32, bias : u32, _a : u32, _b : u32, _c : u32 }
@group(0) @binding(0) var<uniform> u : Fc;
@group(0) @binding(1) var<storage, read> pooled : array<f32>;
@group(0) @binding(2) var<storage, read> params : array<f32>;
@group(0) @binding(3) var<storage, read_write> logits : array<f32>;
@compute @workgroup_size(${FLAT_WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  ${FLAT_INDEX}
  if (index >= u.batch * u.classes) { return; }
  let n = index / u.classes;
  let j = index % u.classes;
  var z = params[u.bias + j];
  for (var c = 0u; c < u.features; c++) { z = fma(pooled[n * u.features + c], params[u.weight + c * u.classes + j], z); }
  logits[index] = z;
}
`;
