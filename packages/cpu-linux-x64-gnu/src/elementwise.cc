#include "elementwise.h"

extern const ElementwiseKernels elementwise_avx512, elementwise_avx2, elementwise_baseline;

const ElementwiseKernels &elementwise() {
  static const ElementwiseKernels &chosen = [] () -> const ElementwiseKernels & {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return elementwise_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return elementwise_avx2;
    return elementwise_baseline;
  }();
  return chosen;
}
