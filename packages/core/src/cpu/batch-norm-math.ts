/**
 * The per-channel coefficients of the batch-norm kernels, shared by the WebAssembly and native
 * kernels: each kernel is a pass of sums over the pixels, these few lines per channel, and a pass
 * of y = in * a + b (+ x * a2) over the pixels.
 */

export function statsOf(mean: Float32Array, variance: Float32Array, epsilon: number): { m: Float32Array; rstd: Float64Array } {
  return { m: mean, rstd: Float64Array.from(variance, (v) => 1 / Math.sqrt(v + epsilon)) };
}

/** Inference with given statistics: [a | b] with a = scale / sqrt(var + eps), b = offset - mean a. */
export function inferenceCoefficients(mean: Float32Array, variance: Float32Array, scale: Float32Array | null, offset: Float32Array | null, epsilon: number): Float32Array {
  const C = mean.length;
  const out = new Float32Array(2 * C);
  for (let c = 0; c < C; c++) {
    const a = (scale ? scale[c] : 1) / Math.sqrt(variance[c] + epsilon);
    out[c] = a;
    out[C + c] = (offset ? offset[c] : 0) - mean[c] * a;
  }
  return out;
}

/** Training: [a | b] from params = [scale; offset], the batch mean and the sums of squared deviations. */
export function trainingCoefficients(params: Float32Array, mean: Float32Array, squares: Float64Array, rows: number, epsilon: number): Float32Array {
  const C = mean.length;
  const out = new Float32Array(2 * C);
  for (let c = 0; c < C; c++) {
    const rstd = 1 / Math.sqrt(squares[c] / rows + epsilon);
    out[c] = params[c] * rstd;
    out[C + c] = params[C + c] - mean[c] * params[c] * rstd;
  }
  return out;
}

/** [d scale; d offset] = [sum(dy (x - mean)) rstd; sum(dy)]. */
export function paramGradients(sumDy: Float64Array, sumDyX: Float64Array, rstd: Float64Array): Float32Array {
  const C = sumDy.length;
  const out = new Float32Array(2 * C);
  for (let c = 0; c < C; c++) {
    out[c] = sumDyX[c] * rstd[c];
    out[C + c] = sumDy[c];
  }
  return out;
}

/** The sums back from the parameter gradients, so that the input gradient need not recompute them. */
export function sumsFromParamGradients(dParams: Float32Array, rstd: Float64Array): { sumDy: Float64Array; sumDyX: Float64Array } {
  const C = rstd.length;
  return { sumDyX: Float64Array.from({ length: C }, (_, c) => dParams[c] / rstd[c]), sumDy: Float64Array.from(dParams.subarray(C)) };
}

/**
 * dx = a dy + c1 x + c0 with a = scale rstd, c1 = -a rstd^2 sum(dy (x - mean)) / n and
 * c0 = -a sum(dy) / n - c1 mean: the batch-norm input gradient, expanded per channel. [a | c1 | c0].
 */
export function gradInputCoefficients(params: Float32Array, mean: Float32Array, rstd: Float64Array, sumDy: Float64Array, sumDyX: Float64Array, rows: number): Float32Array {
  const C = mean.length;
  const out = new Float32Array(3 * C);
  for (let c = 0; c < C; c++) {
    const a = params[c] * rstd[c];
    const c1 = (-a * rstd[c] * rstd[c] * sumDyX[c]) / rows;
    out[c] = a;
    out[C + c] = c1;
    out[2 * C + c] = (-a * sumDy[c]) / rows - c1 * mean[c];
  }
  return out;
}
