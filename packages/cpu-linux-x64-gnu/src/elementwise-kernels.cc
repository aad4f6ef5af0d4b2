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

// Per-thread partial sums, added in thread order so that the result does not depend on timing.
// Within a thread, rows are summed in float over blocks of kBlockRows (vectorised over channels,
// the accumulators staying in L1) and each block's sums are added in double: float rounding
// over a few dozen terms, double over the rest.
constexpr size_t kBlockRows = 32;

template <typename Body>
void channelReduce(size_t rows, size_t C, size_t width, double *out, Body body) {
  int threads = threadsFor(rows * C);
  std::vector<double> partials(size_t(threads) * width, 0.0);
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num();
    Range r = share(rows, t, omp_get_num_threads());
    std::vector<float> block(width);
    double *__restrict total = partials.data() + size_t(t) * width;
    for (size_t begin = r.begin; begin < r.end; begin += kBlockRows) {
      std::fill(block.begin(), block.end(), 0.0f);
      body(begin, std::min(begin + kBlockRows, r.end), block.data());
      for (size_t c = 0; c < width; c++) total[c] += double(block[c]);
    }
  }
  std::memset(out, 0, width * sizeof(double));
  for (int t = 0; t < threads; t++)
    for (size_t c = 0; c < width; c++) out[c] += partials[size_t(t) * width + c];
}

void channelSums(const float *__restrict x, size_t rows, size_t C, const float *__restrict center, double *sums) {
  channelReduce(rows, C, C, sums, [&](size_t begin, size_t end, float *__restrict acc) {
    for (size_t i = begin; i < end; i++) {
      const float *__restrict row = x + i * C;
      if (center) {
        for (size_t c = 0; c < C; c++) {
          float d = row[c] - center[c];
          acc[c] += d * d;
        }
      } else {
        for (size_t c = 0; c < C; c++) acc[c] += row[c];
      }
    }
  });
}

void channelGradSums(const float *__restrict dy, const float *__restrict x, const float *__restrict mask, size_t rows, size_t C,
                     const float *__restrict mean, double *sumDy, double *sumDyX) {
  std::vector<double> both(2 * C);
  channelReduce(rows, C, 2 * C, both.data(), [&](size_t begin, size_t end, float *__restrict acc) {
    float *__restrict accDy = acc;
    float *__restrict accDyX = acc + C;
    for (size_t i = begin; i < end; i++) {
      const float *__restrict g = dy + i * C;
      const float *__restrict v = x + i * C;
      const float *__restrict m = mask ? mask + i * C : g;
      for (size_t c = 0; c < C; c++) {
        float d = (!mask || m[c] > 0.0f) ? g[c] : 0.0f;
        accDy[c] += d;
        accDyX[c] += d * (v[c] - mean[c]);
      }
    }
  });
  std::memcpy(sumDy, both.data(), C * sizeof(double));
  std::memcpy(sumDyX, both.data() + C, C * sizeof(double));
}

void channelAffine(const float *__restrict x, const float *__restrict dy, float *__restrict y, size_t rows, size_t C,
                   const float *__restrict scale, const float *__restrict scale2, const float *__restrict shift, bool relu,
                   const float *__restrict mask) {
#pragma omp parallel num_threads(threadsFor(rows * C))
  {
    Range r = share(rows, omp_get_thread_num(), omp_get_num_threads());
    for (size_t i = r.begin; i < r.end; i++) {
      const float *__restrict in = (dy ? dy : x) + i * C;
      const float *__restrict v = x + i * C;
      const float *__restrict m = mask ? mask + i * C : nullptr;
      float *__restrict out = y + i * C;
      for (size_t c = 0; c < C; c++) {
        float a = (m && !(m[c] > 0.0f)) ? 0.0f : in[c];
        float o = a * scale[c] + shift[c];
        if (dy) o += v[c] * scale2[c];
        // NaN passes the ReLU, as in PyTorch: a diverged step must show in the loss.
        out[c] = relu ? (o > 0.0f || o != o ? o : 0.0f) : o;
      }
    }
  }
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
