// SGD over all of a step's parameters, compiled once per instruction set like the other memory-bound
// kernels, but with floating-point contraction off (-ffp-contract=off): each product and sum is
// rounded to float on its own, as the JavaScript update rounds them with Math.fround, so that the
// two give the same bits.
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "elementwise.h"

#ifndef ELEMENTWISE_ISA
#error "compile with -DELEMENTWISE_ISA=name"
#endif

namespace ELEMENTWISE_ISA {

// Elements per unit of work: threads take chunks of the concatenated parameters in turn.
constexpr size_t kChunk = 1 << 14;

void sgdStep(float *__restrict p, const float *__restrict g, float *__restrict buf, const int32_t *bounds, const float *weightDecays,
             const float *lrs, size_t segments, float momentum, double dampening, bool nesterov, bool first) {
  const size_t total = size_t(bounds[segments]);
  const size_t chunks = (total + kChunk - 1) / kChunk;
  // 1 - dampening rounded once, as Math.fround(1 - dampening) is.
  const float keep = float(1.0 - dampening);
#pragma omp parallel for schedule(static) num_threads(chunks > 1 ? omp_get_max_threads() : 1)
  for (size_t chunk = 0; chunk < chunks; chunk++) {
    const size_t begin = chunk * kChunk, end = std::min(total, begin + kChunk);
    // The segment holding `begin`: the last bound at or below it.
    size_t s = size_t(std::upper_bound(bounds, bounds + segments + 1, int32_t(begin)) - bounds) - 1;
    for (size_t i = begin; i < end;) {
      const size_t stop = std::min(end, size_t(bounds[s + 1]));
      const float wd = weightDecays[s], lr = lrs[s];
      if (momentum > 0.0f) {
        for (; i < stop; i++) {
          const float decay = wd * p[i];
          const float gi = g[i] + decay;
          float b;
          if (first) {
            b = gi;
          } else {
            const float kept = momentum * buf[i];
            b = kept + (dampening == 0.0 ? gi : keep * gi);
          }
          buf[i] = b;
          float step = b;
          if (nesterov) {
            const float ahead = momentum * b;
            step = gi + ahead;
          }
          const float delta = lr * step;
          p[i] = p[i] - delta;
        }
      } else {
        for (; i < stop; i++) {
          const float decay = p[i] * wd;
          const float gi = wd > 0.0f ? g[i] + decay : g[i];
          const float delta = gi * lr;
          p[i] = p[i] - delta;
        }
      }
      s++;
    }
  }
}

}  // namespace ELEMENTWISE_ISA
