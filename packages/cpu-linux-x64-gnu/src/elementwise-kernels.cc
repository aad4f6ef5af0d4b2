// Compiled once per instruction set with -DELEMENTWISE_ISA=<name> and that set's flags; the
// compiler vectorises the inner loops over channels.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "elementwise.h"

#ifndef ELEMENTWISE_ISA
#error "compile with -DELEMENTWISE_ISA=name"
#endif
#define ISA_STRING2(x) #x
#define ISA_STRING(x) ISA_STRING2(x)

namespace ELEMENTWISE_ISA {

// Below this many elements one thread does the work: waking others costs more.
constexpr size_t kParallelMin = 1 << 15;

struct Range {
  size_t begin, end;
};
Range share(size_t rows, int thread, int threads) {
  return {rows * size_t(thread) / size_t(threads), rows * size_t(thread + 1) / size_t(threads)};
}
int threadsFor(size_t elements) { return elements < kParallelMin ? 1 : omp_get_max_threads(); }

void add(const float *__restrict a, const float *__restrict b, float *__restrict out, size_t n) {
#pragma omp parallel num_threads(threadsFor(n))
  {
    Range r = share(n, omp_get_thread_num(), omp_get_num_threads());
    for (size_t i = r.begin; i < r.end; i++) out[i] = a[i] + b[i];
  }
}

// Per-channel sums over the rows of an NHWC array. A block of kBlockRows rows is kBlockRows * C
// consecutive floats, a multiple of every vector width whatever C is, so the sums run over the flat
// array in whole vectors: accumulator j of a block's pattern always holds channel j % C. Each
// accumulator adds kFoldBlocks values in float (in L1); then the pattern is folded into per-channel
// doubles. Threads take whole blocks and keep their own doubles, added in thread order (and the
// last rows after them), so that the result does not depend on timing.
constexpr size_t kBlockRows = 16;
constexpr size_t kFoldBlocks = 16;

// body(first, count, acc): adds `count` whole blocks from block `first` into the accumulator
// patterns acc[0 .. arrays * W); tail(row, acc): adds one row into acc[0 .. arrays * C).
template <typename Blocks, typename Row>
void channelReduce(size_t rows, size_t C, size_t arrays, double *out, Blocks body, Row tail) {
  const size_t W = kBlockRows * C;
  const size_t blocks = rows / kBlockRows;
  const int threads = threadsFor(rows * C);
  std::vector<double> partials(size_t(threads) * arrays * C, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const Range r = share(blocks, t, omp_get_num_threads());
    std::vector<float> acc(arrays * W);
    double *__restrict total = partials.data() + size_t(t) * arrays * C;
    for (size_t first = r.begin; first < r.end; first += kFoldBlocks) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      body(first, std::min(kFoldBlocks, r.end - first), acc.data());
      for (size_t k = 0; k < arrays; k++)
        for (size_t row = 0; row < kBlockRows; row++)
          for (size_t c = 0; c < C; c++) total[k * C + c] += double(acc[k * W + row * C + c]);
    }
  }
  std::memset(out, 0, arrays * C * sizeof(double));
  for (int t = 0; t < threads; t++)
    for (size_t i = 0; i < arrays * C; i++) out[i] += partials[size_t(t) * arrays * C + i];
  std::vector<float> rest(arrays * C, 0.0f);
  for (size_t row = blocks * kBlockRows; row < rows; row++) tail(row, rest.data());
  for (size_t i = 0; i < arrays * C; i++) out[i] += double(rest[i]);
}

// `values` repeated kBlockRows times: a per-channel constant laid out as a block's pattern.
std::vector<float> blockPattern(const float *values, size_t C) {
  std::vector<float> pattern(kBlockRows * C);
  for (size_t row = 0; row < kBlockRows; row++) std::memcpy(pattern.data() + row * C, values, C * sizeof(float));
  return pattern;
}

void channelSums(const float *__restrict x, size_t rows, size_t C, const float *__restrict center, double *sums) {
  const size_t W = kBlockRows * C;
  if (!center) {
    channelReduce(
        rows, C, 1, sums,
        [&](size_t first, size_t count, float *__restrict acc) {
          for (size_t b = first; b < first + count; b++) {
            const float *__restrict v = x + b * W;
            for (size_t j = 0; j < W; j++) acc[j] += v[j];
          }
        },
        [&](size_t row, float *__restrict acc) {
          for (size_t c = 0; c < C; c++) acc[c] += x[row * C + c];
        });
    return;
  }
  const std::vector<float> pattern = blockPattern(center, C);
  const float *__restrict m = pattern.data();
  channelReduce(
      rows, C, 1, sums,
      [&](size_t first, size_t count, float *__restrict acc) {
        for (size_t b = first; b < first + count; b++) {
          const float *__restrict v = x + b * W;
          for (size_t j = 0; j < W; j++) {
            const float d = v[j] - m[j];
            acc[j] += d * d;
          }
        }
      },
      [&](size_t row, float *__restrict acc) {
        for (size_t c = 0; c < C; c++) {
          const float d = x[row * C + c] - center[c];
          acc[c] += d * d;
        }
      });
}

void channelGradSums(const float *__restrict dy, const float *__restrict x, const float *__restrict mask, size_t rows, size_t C,
                     const float *__restrict mean, double *sumDy, double *sumDyX) {
  const size_t W = kBlockRows * C;
  const std::vector<float> pattern = blockPattern(mean, C);
  const float *__restrict m = pattern.data();
  std::vector<double> both(2 * C);
  channelReduce(
      rows, C, 2, both.data(),
      [&](size_t first, size_t count, float *__restrict acc) {
        float *__restrict accDy = acc;
        float *__restrict accDyX = acc + W;
        for (size_t b = first; b < first + count; b++) {
          const float *__restrict g = dy + b * W;
          const float *__restrict v = x + b * W;
          if (mask) {
            const float *__restrict k = mask + b * W;
            for (size_t j = 0; j < W; j++) {
              const float d = k[j] > 0.0f ? g[j] : 0.0f;
              accDy[j] += d;
              accDyX[j] += d * (v[j] - m[j]);
            }
          } else {
            for (size_t j = 0; j < W; j++) {
              accDy[j] += g[j];
              accDyX[j] += g[j] * (v[j] - m[j]);
            }
          }
        }
      },
      [&](size_t row, float *__restrict acc) {
        for (size_t c = 0; c < C; c++) {
          const size_t i = row * C + c;
          const float d = (!mask || mask[i] > 0.0f) ? dy[i] : 0.0f;
          acc[c] += d;
          acc[C + c] += d * (x[i] - mean[c]);
        }
      });
  std::memcpy(sumDy, both.data(), C * sizeof(double));
  std::memcpy(sumDyX, both.data() + C, C * sizeof(double));
}

// One element of channelAffine; the flags are fixed per call, so each loop below is compiled
// without branches on them.
template <bool kGradient, bool kMask, bool kRelu>
inline float affineElement(float in, float v, float m, float scale, float scale2, float shift) {
  const float a = (kMask && !(m > 0.0f)) ? 0.0f : in;
  float o = a * scale + shift;
  if (kGradient) o += v * scale2;
  // NaN passes the ReLU, as in PyTorch: a diverged step must show in the loss.
  return kRelu ? (o > 0.0f || o != o ? o : 0.0f) : o;
}

// Whole blocks of kBlockRows rows run over the flat arrays against the coefficients laid out as a
// block's pattern (see channelReduce); the rows after the last whole block, row by row.
template <bool kGradient, bool kMask, bool kRelu>
void affineRows(const float *__restrict x, const float *__restrict dy, float *__restrict y, size_t rows, size_t C,
                const float *__restrict scale, const float *__restrict scale2, const float *__restrict shift, const float *__restrict mask) {
  const float *__restrict in = kGradient ? dy : x;
  const size_t W = kBlockRows * C;
  const size_t blocks = rows / kBlockRows;
  const std::vector<float> scales = blockPattern(scale, C), shifts = blockPattern(shift, C),
                           scales2 = kGradient ? blockPattern(scale2, C) : std::vector<float>();
  const float *__restrict sc = scales.data();
  const float *__restrict sh = shifts.data();
  const float *__restrict sc2 = kGradient ? scales2.data() : nullptr;
#pragma omp parallel num_threads(threadsFor(rows * C))
  {
    const Range r = share(blocks, omp_get_thread_num(), omp_get_num_threads());
    for (size_t b = r.begin; b < r.end; b++) {
      const size_t base = b * W;
      for (size_t j = 0; j < W; j++)
        y[base + j] = affineElement<kGradient, kMask, kRelu>(in[base + j], kGradient ? x[base + j] : 0.0f, kMask ? mask[base + j] : 0.0f,
                                                             sc[j], kGradient ? sc2[j] : 0.0f, sh[j]);
    }
  }
  for (size_t i = blocks * W; i < rows * C; i++) {
    const size_t c = i % C;
    y[i] = affineElement<kGradient, kMask, kRelu>(in[i], kGradient ? x[i] : 0.0f, kMask ? mask[i] : 0.0f, scale[c], kGradient ? scale2[c] : 0.0f,
                                                  shift[c]);
  }
}

void channelAffine(const float *__restrict x, const float *__restrict dy, float *__restrict y, size_t rows, size_t C,
                   const float *__restrict scale, const float *__restrict scale2, const float *__restrict shift, bool relu,
                   const float *__restrict mask) {
  if (dy) {
    if (mask) return relu ? affineRows<true, true, true>(x, dy, y, rows, C, scale, scale2, shift, mask)
                          : affineRows<true, true, false>(x, dy, y, rows, C, scale, scale2, shift, mask);
    return relu ? affineRows<true, false, true>(x, dy, y, rows, C, scale, scale2, shift, mask)
                : affineRows<true, false, false>(x, dy, y, rows, C, scale, scale2, shift, mask);
  }
  if (mask) return relu ? affineRows<false, true, true>(x, dy, y, rows, C, scale, scale2, shift, mask)
                        : affineRows<false, true, false>(x, dy, y, rows, C, scale, scale2, shift, mask);
  return relu ? affineRows<false, false, true>(x, dy, y, rows, C, scale, scale2, shift, mask)
              : affineRows<false, false, false>(x, dy, y, rows, C, scale, scale2, shift, mask);
}

// Pixels a 2x2 window at output index i covers along an input side of n (ceil mode: 1 at an odd edge).
inline size_t windowPixels(size_t i, size_t n) { return 2 * i + 1 < n ? 2 : 1; }

void shortcutAdd(const float *__restrict r, const float *__restrict x, float *__restrict y, size_t N, size_t OH, size_t OW, size_t CO,
                 size_t H, size_t W, size_t CI, int stride) {
#pragma omp parallel num_threads(threadsFor(N * OH * OW * CO))
  {
    Range rows = share(N * OH, omp_get_thread_num(), omp_get_num_threads());
    for (size_t row = rows.begin; row < rows.end; row++) {
      size_t n = row / OH, i = row % OH;
      for (size_t j = 0; j < OW; j++) {
        const float *__restrict rp = r + (row * OW + j) * CO;
        float *__restrict yp = y + (row * OW + j) * CO;
        if (stride == 1) {
          const float *__restrict xp = x + ((n * H + i) * W + j) * CI;
          for (size_t c = 0; c < CI; c++) yp[c] = rp[c] + xp[c];
        } else {
          size_t rowsIn = windowPixels(i, H), colsIn = windowPixels(j, W);
          float inv = 1.0f / float(rowsIn * colsIn);
          const float *__restrict x00 = x + ((n * H + 2 * i) * W + 2 * j) * CI;
          for (size_t c = 0; c < CI; c++) {
            float s = x00[c];
            if (colsIn == 2) s += x00[CI + c];
            if (rowsIn == 2) s += x00[W * CI + c];
            if (rowsIn == 2 && colsIn == 2) s += x00[W * CI + CI + c];
            yp[c] = rp[c] + s * inv;
          }
        }
        for (size_t c = CI; c < CO; c++) yp[c] = rp[c];
      }
    }
  }
}

void shortcutGrad(const float *__restrict dy, float *__restrict dx, size_t N, size_t OH, size_t OW, size_t CO, size_t H, size_t W,
                  size_t CI, int stride) {
#pragma omp parallel num_threads(threadsFor(N * H * W * CI))
  {
    Range rows = share(N * H, omp_get_thread_num(), omp_get_num_threads());
    for (size_t row = rows.begin; row < rows.end; row++) {
      size_t n = row / H, h = row % H;
      size_t i = stride == 1 ? h : h / 2;
      for (size_t w = 0; w < W; w++) {
        size_t j = stride == 1 ? w : w / 2;
        const float *__restrict g = dy + ((n * OH + i) * OW + j) * CO;
        float *__restrict d = dx + ((n * H + h) * W + w) * CI;
        float inv = stride == 1 ? 1.0f : 1.0f / float(windowPixels(i, H) * windowPixels(j, W));
        for (size_t c = 0; c < CI; c++) d[c] = g[c] * inv;
      }
    }
  }
}

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vector __attribute__((vector_size(kLanes * sizeof(float))));

// In sgd-kernels.cc, compiled for the same instruction set without contraction.
void sgdStep(float *p, const float *g, float *buf, const int32_t *bounds, const float *weightDecays, const float *lrs, size_t segments,
             float momentum, double dampening, bool nesterov, bool first);

double peakGflops(double seconds) {
  // Twelve independent chains hide the multiply-add latency on every current core; each thread
  // runs on its own clock, so no thread waits for another.
  constexpr int kChains = 12;
  constexpr long kRound = 1 << 14;
  double flops = 0;
  double start = omp_get_wtime();
#pragma omp parallel reduction(+ : flops)
  {
    Vector acc[kChains];
    const Vector a = Vector{} + 0.999999f, b = Vector{} + 1e-7f;
    for (int k = 0; k < kChains; k++) acc[k] = Vector{} + float(k);
    long rounds = 0;
    do {
      for (long i = 0; i < kRound; i++)
        for (int k = 0; k < kChains; k++) acc[k] = acc[k] * a + b;
      rounds++;
    } while (omp_get_wtime() - start < seconds);
    float sink = 0;
    for (int k = 0; k < kChains; k++) sink += acc[k][0];
    // Keeps the chains from being optimised away; never true for these values.
    if (sink == 12345.0f) flops += 1;
    flops += double(rounds) * kRound * kChains * kLanes * 2;
  }
  return flops / (omp_get_wtime() - start) / 1e9;
}

}  // namespace ELEMENTWISE_ISA

extern const ElementwiseKernels ELEMENTWISE_TABLE = {
    ISA_STRING(ELEMENTWISE_ISA), ELEMENTWISE_ISA::add, ELEMENTWISE_ISA::channelSums, ELEMENTWISE_ISA::channelGradSums,
    ELEMENTWISE_ISA::channelAffine, ELEMENTWISE_ISA::shortcutAdd, ELEMENTWISE_ISA::shortcutGrad, ELEMENTWISE_ISA::sgdStep,
    ELEMENTWISE_ISA::peakGflops,
};
