// Memory-bound kernels of the training step (adds, batch-norm sums and affine maps), compiled once
// per instruction set (AVX-512, AVX2+FMA, baseline x86-64); the best the CPU supports is picked
// once, at load time. Rows are NHWC pixels, C the channels; OpenMP splits rows among threads.
#pragma once
#include <cstddef>
#include <cstdint>

struct ElementwiseKernels {
  const char *isa;
  // out = a + b over n floats.
  void (*add)(const float *a, const float *b, float *out, size_t n);
  // sums[c] = sum over rows of x, or of (x - center)^2 when center is given; in double.
  void (*channelSums)(const float *x, size_t rows, size_t C, const float *center, double *sums);
  // sumDy[c] = sum of dy, sumDyX[c] = sum of dy (x - mean); dy counts only where mask > 0 if given.
  void (*channelGradSums)(const float *dy, const float *x, const float *mask, size_t rows, size_t C, const float *mean, double *sumDy,
                          double *sumDyX);
  // y = in * scale + shift (+ x * scale2 when dy is given, in = dy masked by mask > 0; else in = x),
  // then max(y, 0) when relu.
  void (*channelAffine)(const float *x, const float *dy, float *y, size_t rows, size_t C, const float *scale, const float *scale2,
                        const float *shift, bool relu, const float *mask);
  // The zero-padded shortcut: y = r + (x, or x averaged over 2x2 windows (ceil mode) at stride 2) on
  // the first CI of CO channels, y = r on the others. Shapes NHWC: r, y [N, OH, OW, CO], x [N, H, W, CI].
  void (*shortcutAdd)(const float *r, const float *x, float *y, size_t N, size_t OH, size_t OW, size_t CO, size_t H, size_t W,
                      size_t CI, int stride);
  // Its input gradient: dx at (h, w) is dy at the output pixel covering it over that window's size.
  void (*shortcutGrad)(const float *dy, float *dx, size_t N, size_t OH, size_t OW, size_t CO, size_t H, size_t W, size_t CI,
                       int stride);
  // SGD with momentum as PyTorch computes it (without momentum when momentum is 0), in place over
  // parameters p, gradients g and momentum buffers buf laid end to end in `segments` runs
  // [bounds[s], bounds[s + 1]), each with its own weight decay and learning rate.
  void (*sgdStep)(float *p, const float *g, float *buf, const int32_t *bounds, const float *weightDecays, const float *lrs,
                  size_t segments, float momentum, double dampening, bool nesterov, bool first);
  // Runs multiply-adds of the widest vectors this instruction set has on every thread for about
  // `seconds` and returns the GFLOP/s reached: the machine's peak, to measure kernels against.
  double (*peakGflops)(double seconds);
};

// The kernels for the best instruction set this CPU supports.
const ElementwiseKernels &elementwise();
