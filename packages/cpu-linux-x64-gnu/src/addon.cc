// Native CPU kernels for @pyramid/core: convolutions through oneDNN (the library PyTorch uses on
// CPUs), and the memory-bound kernels of a PyramidNet step, compiled per instruction set and
// picked at load time. Every function works in place on typed arrays that JavaScript owns: tensors
// stay NHWC float32 for tfjs, and only oneDNN's blocked layouts live here, in reused buffers.
#include <node_api.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "elementwise.h"

namespace {

using dnnl::memory;

struct JsError {
  std::string message;
};
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine &cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream &cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

// A grow-only, 64-byte aligned buffer: the blocked copies of one call's tensors and oneDNN's
// scratchpad. Four of them serve every convolution, so memory follows the largest shape only.
struct Buffer {
  void *data = nullptr;
  size_t bytes = 0;
  void *reserve(size_t n) {
    if (n > bytes) {
      std::free(data);
      bytes = (n + 4095) & ~size_t(4095);
      data = std::aligned_alloc(64, bytes);
      if (!data) {
        bytes = 0;
        throw std::bad_alloc();
      }
    }
    return data;
  }
};
Buffer inputBuffer, weightBuffer, outputBuffer, scratchpadBuffer;

// The output gradient of the last backward-data call, kept in its blocked layout for the
// backward-weights call of the same convolution, which needs the same reorder of the same dy.
// The caller says whether dy is still that tensor (it knows tensor identity; a pointer alone could
// be a reused array); the geometry, source and layout are checked here as well.
struct DiffDstCache {
  Buffer buffer;
  const float *source = nullptr;
  std::string key;
  memory::desc desc;
  size_t reused = 0;
};
DiffDstCache diffDstCache;

// Activations copied between NHWC and a blocked layout, in either direction: what the NHWC
// layouts save, counted for tests.
size_t activationReorders = 0;

// Convolution geometry as tfjs's computeConv2DInfo gives it, NHWC / HWIO.
struct Geometry {
  int64_t n, h, w, c, fh, fw, k, sh, sw, pt, pl, oh, ow;
  std::string key() const {
    char text[256];
    std::snprintf(text, sizeof text, "%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld", (long)n, (long)h, (long)w, (long)c,
                  (long)fh, (long)fw, (long)k, (long)sh, (long)sw, (long)pt, (long)pl, (long)oh, (long)ow);
    return text;
  }
  memory::dims src() const { return {n, c, h, w}; }
  memory::dims weights() const { return {k, c, fh, fw}; }
  memory::dims dst() const { return {n, k, oh, ow}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims padTop() const { return {pt, pl}; }
  // tfjs pads the bottom/right with whatever makes the output size come out; may be negative.
  memory::dims padBottom() const { return {(oh - 1) * sh + fh - h - pt, (ow - 1) * sw + fw - w - pl}; }
};

// A plain-layout tensor given by JavaScript and the layout a primitive wants: reorders between
// them are built once per shape.
struct Operand {
  memory::desc plain, wanted;
  std::unique_ptr<dnnl::reorder> toWanted, toPlain;
  bool same() const { return plain == wanted; }
  void prepare(bool in, bool out) {
    if (same()) return;
    if (in) toWanted.reset(new dnnl::reorder(memory(plain, cpuEngine(), DNNL_MEMORY_NONE), memory(wanted, cpuEngine(), DNNL_MEMORY_NONE)));
    if (out) toPlain.reset(new dnnl::reorder(memory(wanted, cpuEngine(), DNNL_MEMORY_NONE), memory(plain, cpuEngine(), DNNL_MEMORY_NONE)));
  }
  // The memory the primitive reads: the user's array, or its blocked copy in `buffer`.
  memory input(float *user, Buffer &buffer) const {
    memory given(plain, cpuEngine(), user);
    if (same()) return given;
    memory blocked(wanted, cpuEngine(), buffer.reserve(wanted.get_size()));
    toWanted->execute(cpuStream(), given, blocked);
    return blocked;
  }
  memory output(float *user, Buffer &buffer) const {
    if (same()) return memory(plain, cpuEngine(), user);
    return memory(wanted, cpuEngine(), buffer.reserve(wanted.get_size()));
  }
  void finish(memory result, float *user) const {
    if (same()) return;
    memory given(plain, cpuEngine(), user);
    toPlain->execute(cpuStream(), result, given);
  }
};

void countReorders(std::initializer_list<const Operand *> operands) {
  for (const Operand *operand : operands) activationReorders += operand->same() ? 0 : 1;
}

dnnl::primitive_attr userScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Where oneDNN's activations live for one direction of one convolution: in its blocked layout
// (the tensors reordered in and out at every call, channels padded to the vector width) or
// directly in the NHWC arrays JavaScript owns. Which is faster depends on the shape and the
// direction; the choice is fixed per shape so that a run's arithmetic never changes under it.
enum class Layout { blocked, nhwc };

struct ConvolutionLayouts {
  Layout forward, data, weights;
};

const char *layoutName(Layout layout) { return layout == Layout::nhwc ? "nhwc" : "blocked"; }

Layout parseLayout(const std::string &text, const char *what) {
  if (text == "nhwc") return Layout::nhwc;
  if (text == "blocked") return Layout::blocked;
  throw JsError{std::string("setConvolutionLayouts: ") + what + " must be 'nhwc' or 'blocked', got '" + text + "'"};
}

// Measured on PyramidNet-110's shapes (AVX2, oneDNN 2.6): oneDNN's NHWC kernels skip the reorders
// and compute only the real channels, where the blocked ones pad every width to a multiple of 8.
ConvolutionLayouts convolutionLayouts{Layout::nhwc, Layout::nhwc, Layout::nhwc};

std::string layoutKey(const ConvolutionLayouts &l) {
  return std::string(",") + layoutName(l.forward) + "," + layoutName(l.data) + "," + layoutName(l.weights);
}

memory::desc activation(const memory::dims &d, Layout layout) {
  return memory::desc(d, dt::f32, layout == Layout::nhwc ? tag::nhwc : tag::any);
}

struct Convolution {
  dnnl::convolution_forward::primitive_desc forwardDesc;
  std::unique_ptr<dnnl::convolution_forward> forward;
  Operand fwdSrc, fwdWeights, fwdDst;

  std::unique_ptr<dnnl::convolution_backward_data> backwardData;
  dnnl::convolution_backward_data::primitive_desc backwardDataDesc;
  Operand bdDiffDst, bdWeights, bdDiffSrc;

  std::unique_ptr<dnnl::convolution_backward_weights> backwardWeights;
  dnnl::convolution_backward_weights::primitive_desc backwardWeightsDesc;
  Operand bwSrc, bwDiffDst, bwDiffWeights;

  ConvolutionLayouts layouts;

  Convolution(const Geometry &g, const ConvolutionLayouts &chosen) : layouts(chosen) {
    auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                activation(g.src(), layouts.forward), any(g.weights()),
                                                activation(g.dst(), layouts.forward), g.strides(), g.padTop(), g.padBottom());
    forwardDesc = dnnl::convolution_forward::primitive_desc(desc, userScratchpad(), cpuEngine());
    const memory::desc plainSrc(g.src(), dt::f32, tag::nhwc), plainWeights(g.weights(), dt::f32, tag::hwio),
        plainDst(g.dst(), dt::f32, tag::nhwc);
    fwdSrc = Operand{plainSrc, forwardDesc.src_desc()};
    fwdWeights = Operand{plainWeights, forwardDesc.weights_desc()};
    fwdDst = Operand{plainDst, forwardDesc.dst_desc()};
    bdDiffDst.plain = bwDiffDst.plain = plainDst;
    bdWeights.plain = bwDiffWeights.plain = plainWeights;
    bdDiffSrc.plain = bwSrc.plain = plainSrc;
  }
  memory::desc any(const memory::dims &d) const { return memory::desc(d, dt::f32, tag::any); }
};

std::unordered_map<std::string, std::unique_ptr<Convolution>> convolutions;

Convolution &convolutionFor(const Geometry &g) {
  auto &slot = convolutions[g.key() + layoutKey(convolutionLayouts)];
  if (!slot) slot.reset(new Convolution(g, convolutionLayouts));
  return *slot;
}

memory scratchpadFor(const memory::desc &desc) {
  return memory(desc, cpuEngine(), scratchpadBuffer.reserve(desc.get_size() ? desc.get_size() : 64));
}

void convForward(const Geometry &g, float *x, float *w, float *y) {
  Convolution &conv = convolutionFor(g);
  if (!conv.forward) {
    conv.fwdSrc.prepare(true, false);
    conv.fwdWeights.prepare(true, false);
    conv.fwdDst.prepare(false, true);
    conv.forward.reset(new dnnl::convolution_forward(conv.forwardDesc));
  }
  countReorders({&conv.fwdSrc, &conv.fwdDst});
  memory src = conv.fwdSrc.input(x, inputBuffer);
  memory weights = conv.fwdWeights.input(w, weightBuffer);
  memory dst = conv.fwdDst.output(y, outputBuffer);
  conv.forward->execute(cpuStream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst},
                                      {DNNL_ARG_SCRATCHPAD, scratchpadFor(conv.forwardDesc.scratchpad_desc())}});
  conv.fwdDst.finish(dst, y);
  cpuStream().wait();
}

void convBackwardData(const Geometry &g, float *dy, float *w, float *dx) {
  Convolution &conv = convolutionFor(g);
  if (!conv.backwardData) {
    auto desc = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, activation(g.src(), conv.layouts.data),
                                                      conv.any(g.weights()), activation(g.dst(), conv.layouts.data), g.strides(),
                                                      g.padTop(), g.padBottom());
    conv.backwardDataDesc = dnnl::convolution_backward_data::primitive_desc(desc, userScratchpad(), cpuEngine(), conv.forwardDesc);
    conv.bdDiffDst.wanted = conv.backwardDataDesc.diff_dst_desc();
    conv.bdWeights.wanted = conv.backwardDataDesc.weights_desc();
    conv.bdDiffSrc.wanted = conv.backwardDataDesc.diff_src_desc();
    conv.bdDiffDst.prepare(true, false);
    conv.bdWeights.prepare(true, false);
    conv.bdDiffSrc.prepare(false, true);
    conv.backwardData.reset(new dnnl::convolution_backward_data(conv.backwardDataDesc));
  }
  countReorders({&conv.bdDiffDst, &conv.bdDiffSrc});
  diffDstCache.source = nullptr;
  memory diffDst = conv.bdDiffDst.input(dy, diffDstCache.buffer);
  if (!conv.bdDiffDst.same()) {
    diffDstCache.source = dy;
    diffDstCache.key = g.key();
    diffDstCache.desc = conv.bdDiffDst.wanted;
  }
  memory weights = conv.bdWeights.input(w, weightBuffer);
  memory diffSrc = conv.bdDiffSrc.output(dx, outputBuffer);
  conv.backwardData->execute(cpuStream(), {{DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diffSrc},
                                           {DNNL_ARG_SCRATCHPAD, scratchpadFor(conv.backwardDataDesc.scratchpad_desc())}});
  conv.bdDiffSrc.finish(diffSrc, dx);
  cpuStream().wait();
}

void convBackwardWeights(const Geometry &g, float *x, float *dy, float *dw, bool sameDiffDst) {
  Convolution &conv = convolutionFor(g);
  if (!conv.backwardWeights) {
    auto desc = dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, activation(g.src(), conv.layouts.weights),
                                                         conv.any(g.weights()), activation(g.dst(), conv.layouts.weights), g.strides(),
                                                         g.padTop(), g.padBottom());
    conv.backwardWeightsDesc = dnnl::convolution_backward_weights::primitive_desc(desc, userScratchpad(), cpuEngine(), conv.forwardDesc);
    conv.bwSrc.wanted = conv.backwardWeightsDesc.src_desc();
    conv.bwDiffDst.wanted = conv.backwardWeightsDesc.diff_dst_desc();
    conv.bwDiffWeights.wanted = conv.backwardWeightsDesc.diff_weights_desc();
    conv.bwSrc.prepare(true, false);
    conv.bwDiffDst.prepare(true, false);
    conv.bwDiffWeights.prepare(false, true);
    conv.backwardWeights.reset(new dnnl::convolution_backward_weights(conv.backwardWeightsDesc));
  }
  memory src = conv.bwSrc.input(x, inputBuffer);
  const bool reuse = sameDiffDst && diffDstCache.source == dy && diffDstCache.key == g.key() && diffDstCache.desc == conv.bwDiffDst.wanted;
  if (reuse) diffDstCache.reused++;
  countReorders({&conv.bwSrc});
  if (!reuse) countReorders({&conv.bwDiffDst});
  memory diffDst = reuse ? memory(conv.bwDiffDst.wanted, cpuEngine(), diffDstCache.buffer.data) : conv.bwDiffDst.input(dy, outputBuffer);
  memory diffWeights = conv.bwDiffWeights.output(dw, weightBuffer);
  conv.backwardWeights->execute(cpuStream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, diffWeights},
                                              {DNNL_ARG_SCRATCHPAD, scratchpadFor(conv.backwardWeightsDesc.scratchpad_desc())}});
  conv.bwDiffWeights.finish(diffWeights, dw);
  cpuStream().wait();
}

// Inference: the convolution with a per-channel bias (a batch norm folded into the weights) and
// optionally a ReLU, in one oneDNN primitive, so that the output is written once.
struct AffineConvolution {
  dnnl::convolution_forward::primitive_desc desc;
  std::unique_ptr<dnnl::convolution_forward> primitive;
  Operand src, weights, dst;
};

std::unordered_map<std::string, std::unique_ptr<AffineConvolution>> affineConvolutions;

void convForwardAffine(const Geometry &g, float *x, float *w, float *bias, float *y, bool relu) {
  auto &slot = affineConvolutions[g.key() + layoutKey(convolutionLayouts) + (relu ? ",relu" : "")];
  if (!slot) {
    const Layout layout = convolutionLayouts.forward;
    memory::desc biasDesc({g.k}, dt::f32, tag::x);
    auto d = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             activation(g.src(), layout), memory::desc(g.weights(), dt::f32, tag::any), biasDesc,
                                             activation(g.dst(), layout), g.strides(), g.padTop(), g.padBottom());
    dnnl::primitive_attr attr = userScratchpad();
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    slot.reset(new AffineConvolution());
    slot->desc = dnnl::convolution_forward::primitive_desc(d, attr, cpuEngine());
    slot->src = Operand{memory::desc(g.src(), dt::f32, tag::nhwc), slot->desc.src_desc()};
    slot->weights = Operand{memory::desc(g.weights(), dt::f32, tag::hwio), slot->desc.weights_desc()};
    slot->dst = Operand{memory::desc(g.dst(), dt::f32, tag::nhwc), slot->desc.dst_desc()};
    slot->src.prepare(true, false);
    slot->weights.prepare(true, false);
    slot->dst.prepare(false, true);
    slot->primitive.reset(new dnnl::convolution_forward(slot->desc));
  }
  AffineConvolution &conv = *slot;
  countReorders({&conv.src, &conv.dst});
  memory src = conv.src.input(x, inputBuffer);
  memory weights = conv.weights.input(w, weightBuffer);
  memory dst = conv.dst.output(y, outputBuffer);
  memory biasMemory(memory::desc({g.k}, dt::f32, tag::x), cpuEngine(), bias);
  conv.primitive->execute(cpuStream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, biasMemory}, {DNNL_ARG_DST, dst},
                                        {DNNL_ARG_SCRATCHPAD, scratchpadFor(conv.desc.scratchpad_desc())}});
  conv.dst.finish(dst, y);
  cpuStream().wait();
}

// ---- Node-API glue ----

napi_value fail(napi_env env, const std::string &message) {
  napi_throw_error(env, "PYRAMID_NATIVE", message.c_str());
  return nullptr;
}

void check(napi_status status, const char *what) {
  if (status != napi_ok) throw JsError{std::string("native kernels: ") + what};
}

struct Args {
  napi_env env;
  size_t count = 10;
  napi_value values[10];
  Args(napi_env e, napi_callback_info info, size_t expected, const char *name) : env(e) {
    check(napi_get_cb_info(env, info, &count, values, nullptr, nullptr), name);
    if (count < expected) throw JsError{std::string(name) + ": expected " + std::to_string(expected) + " arguments"};
  }
  float *floats(size_t i, size_t at_least, const char *name) const {
    napi_typedarray_type type;
    size_t length;
    void *data;
    napi_value buffer;
    size_t offset;
    bool is;
    check(napi_is_typedarray(env, values[i], &is), name);
    if (!is) throw JsError{std::string(name) + ": argument " + std::to_string(i) + " must be a Float32Array"};
    check(napi_get_typedarray_info(env, values[i], &type, &length, &data, &buffer, &offset), name);
    if (type != napi_float32_array) throw JsError{std::string(name) + ": argument " + std::to_string(i) + " must be a Float32Array"};
    if (length < at_least)
      throw JsError{std::string(name) + ": argument " + std::to_string(i) + " holds " + std::to_string(length) + " floats, needs " +
                    std::to_string(at_least)};
    return static_cast<float *>(data);
  }
  // A Float32Array, or null for an absent optional input.
  float *optionalFloats(size_t i, size_t at_least, const char *name) const {
    napi_valuetype kind;
    check(napi_typeof(env, values[i], &kind), name);
    if (kind == napi_null || kind == napi_undefined) return nullptr;
    return floats(i, at_least, name);
  }
  double *doubles(size_t i, size_t at_least, const char *name) const {
    napi_typedarray_type type;
    size_t length;
    void *data;
    napi_value buffer;
    size_t offset;
    bool is;
    check(napi_is_typedarray(env, values[i], &is), name);
    if (is) check(napi_get_typedarray_info(env, values[i], &type, &length, &data, &buffer, &offset), name);
    if (!is || type != napi_float64_array) throw JsError{std::string(name) + ": argument " + std::to_string(i) + " must be a Float64Array"};
    if (length < at_least) throw JsError{std::string(name) + ": argument " + std::to_string(i) + " is too short"};
    return static_cast<double *>(data);
  }
  bool boolean(size_t i, const char *name) const {
    bool v;
    check(napi_get_value_bool(env, values[i], &v), name);
    return v;
  }
  int64_t integer(size_t i, const char *name) const {
    int64_t v;
    check(napi_get_value_int64(env, values[i], &v), name);
    return v;
  }
  std::string string(size_t i, const char *name) const {
    char text[64];
    size_t length;
    if (napi_get_value_string_utf8(env, values[i], text, sizeof text, &length) != napi_ok)
      throw JsError{std::string(name) + ": argument " + std::to_string(i) + " must be a string"};
    return std::string(text, length);
  }
  double number(size_t i, const char *name) const {
    double v;
    check(napi_get_value_double(env, values[i], &v), name);
    return v;
  }
  // An Int32Array and its length.
  const int32_t *int32s(size_t i, size_t *length, const char *name) const {
    napi_typedarray_type type;
    void *data;
    napi_value buffer;
    size_t offset;
    bool is;
    check(napi_is_typedarray(env, values[i], &is), name);
    if (is) check(napi_get_typedarray_info(env, values[i], &type, length, &data, &buffer, &offset), name);
    if (!is || type != napi_int32_array) throw JsError{std::string(name) + ": argument " + std::to_string(i) + " must be an Int32Array"};
    return static_cast<const int32_t *>(data);
  }
  Geometry geometry(size_t i, const char *name) const {
    int32_t *g = nullptr;
    napi_typedarray_type type;
    size_t length;
    void *data;
    napi_value buffer;
    size_t offset;
    check(napi_get_typedarray_info(env, values[i], &type, &length, &data, &buffer, &offset), name);
    if (type != napi_int32_array || length != 13) throw JsError{std::string(name) + ": geometry must be an Int32Array of 13"};
    g = static_cast<int32_t *>(data);
    return Geometry{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]};
  }
};

template <typename F>
napi_value guarded(napi_env env, F body) {
  try {
    return body();
  } catch (const JsError &e) {
    return fail(env, e.message);
  } catch (const dnnl::error &e) {
    return fail(env, std::string("oneDNN: ") + e.what());
  } catch (const std::bad_alloc &) {
    return fail(env, "native kernels: out of memory");
  }
}

napi_value undefinedValue(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

size_t elements(const memory::dims &d) {
  size_t n = 1;
  for (auto x : d) n *= size_t(x);
  return n;
}

napi_value ConvForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 4, "convForward");
    Geometry g = a.geometry(3, "convForward");
    convForward(g, a.floats(0, elements(g.src()), "convForward"), a.floats(1, elements(g.weights()), "convForward"),
                a.floats(2, elements(g.dst()), "convForward"));
    return undefinedValue(env);
  });
}

napi_value ConvBackwardData(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 4, "convBackwardData");
    Geometry g = a.geometry(3, "convBackwardData");
    convBackwardData(g, a.floats(0, elements(g.dst()), "convBackwardData"), a.floats(1, elements(g.weights()), "convBackwardData"),
                     a.floats(2, elements(g.src()), "convBackwardData"));
    return undefinedValue(env);
  });
}

napi_value ConvBackwardWeights(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5, "convBackwardWeights");
    Geometry g = a.geometry(3, "convBackwardWeights");
    convBackwardWeights(g, a.floats(0, elements(g.src()), "convBackwardWeights"), a.floats(1, elements(g.dst()), "convBackwardWeights"),
                        a.floats(2, elements(g.weights()), "convBackwardWeights"), a.boolean(4, "convBackwardWeights"));
    return undefinedValue(env);
  });
}

size_t positive(int64_t v, const char *name) {
  if (v < 1) throw JsError{std::string(name) + ": sizes must be positive"};
  return size_t(v);
}

// add(a, b, out, n)
napi_value Add(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 4, "add");
    size_t n = positive(a.integer(3, "add"), "add");
    elementwise().add(a.floats(0, n, "add"), a.floats(1, n, "add"), a.floats(2, n, "add"), n);
    return undefinedValue(env);
  });
}

// channelSums(x, rows, C, center | null, sums: Float64Array)
napi_value ChannelSums(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5, "channelSums");
    size_t rows = positive(a.integer(1, "channelSums"), "channelSums"), C = positive(a.integer(2, "channelSums"), "channelSums");
    elementwise().channelSums(a.floats(0, rows * C, "channelSums"), rows, C, a.optionalFloats(3, C, "channelSums"),
                              a.doubles(4, C, "channelSums"));
    return undefinedValue(env);
  });
}

// channelGradSums(dy, x, mask | null, rows, C, mean, sumDy: Float64Array, sumDyX: Float64Array)
napi_value ChannelGradSums(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 8, "channelGradSums");
    size_t rows = positive(a.integer(3, "channelGradSums"), "channelGradSums"), C = positive(a.integer(4, "channelGradSums"), "channelGradSums");
    elementwise().channelGradSums(a.floats(0, rows * C, "channelGradSums"), a.floats(1, rows * C, "channelGradSums"),
                                  a.optionalFloats(2, rows * C, "channelGradSums"), rows, C, a.floats(5, C, "channelGradSums"),
                                  a.doubles(6, C, "channelGradSums"), a.doubles(7, C, "channelGradSums"));
    return undefinedValue(env);
  });
}

// channelAffine(x, dy | null, y, rows, C, scale, scale2 | null, shift, relu, mask | null)
napi_value ChannelAffine(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 10, "channelAffine");
    size_t rows = positive(a.integer(3, "channelAffine"), "channelAffine"), C = positive(a.integer(4, "channelAffine"), "channelAffine");
    const float *dy = a.optionalFloats(1, rows * C, "channelAffine");
    const float *scale2 = a.optionalFloats(6, C, "channelAffine");
    if (dy && !scale2) throw JsError{"channelAffine: scale2 is needed with dy"};
    elementwise().channelAffine(a.floats(0, rows * C, "channelAffine"), dy, a.floats(2, rows * C, "channelAffine"), rows, C,
                                a.floats(5, C, "channelAffine"), scale2, a.floats(7, C, "channelAffine"), a.boolean(8, "channelAffine"),
                                a.optionalFloats(9, rows * C, "channelAffine"));
    return undefinedValue(env);
  });
}

// geometry of the shortcut: Int32Array [N, OH, OW, CO, H, W, CI, stride]
struct ShortcutShape {
  size_t N, OH, OW, CO, H, W, CI;
  int stride;
};

ShortcutShape shortcutShape(const Args &a, size_t i, const char *name) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value buffer;
  size_t offset;
  check(napi_get_typedarray_info(a.env, a.values[i], &type, &length, &data, &buffer, &offset), name);
  if (type != napi_int32_array || length != 8) throw JsError{std::string(name) + ": shape must be an Int32Array of 8"};
  const int32_t *g = static_cast<const int32_t *>(data);
  for (int k = 0; k < 7; k++)
    if (g[k] < 1) throw JsError{std::string(name) + ": sizes must be positive"};
  ShortcutShape s{size_t(g[0]), size_t(g[1]), size_t(g[2]), size_t(g[3]), size_t(g[4]), size_t(g[5]), size_t(g[6]), g[7]};
  size_t expectH = s.stride == 2 ? (s.H + 1) / 2 : s.H, expectW = s.stride == 2 ? (s.W + 1) / 2 : s.W;
  if ((s.stride != 1 && s.stride != 2) || s.OH != expectH || s.OW != expectW || s.CI > s.CO)
    throw JsError{std::string(name) + ": the residual does not fit the input at this stride"};
  return s;
}

// shortcutAdd(r, x, y, shape)
napi_value ShortcutAdd(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 4, "shortcutAdd");
    ShortcutShape s = shortcutShape(a, 3, "shortcutAdd");
    size_t out = s.N * s.OH * s.OW * s.CO, in = s.N * s.H * s.W * s.CI;
    elementwise().shortcutAdd(a.floats(0, out, "shortcutAdd"), a.floats(1, in, "shortcutAdd"), a.floats(2, out, "shortcutAdd"), s.N, s.OH,
                              s.OW, s.CO, s.H, s.W, s.CI, s.stride);
    return undefinedValue(env);
  });
}

// shortcutGrad(dy, dx, shape)
napi_value ShortcutGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 3, "shortcutGrad");
    ShortcutShape s = shortcutShape(a, 2, "shortcutGrad");
    elementwise().shortcutGrad(a.floats(0, s.N * s.OH * s.OW * s.CO, "shortcutGrad"), a.floats(1, s.N * s.H * s.W * s.CI, "shortcutGrad"),
                               s.N, s.OH, s.OW, s.CO, s.H, s.W, s.CI, s.stride);
    return undefinedValue(env);
  });
}

// sgdStep(params, grads, buffers, bounds, weightDecays, lrs, momentum, dampening, nesterov, first)
napi_value SgdStep(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    const char *name = "sgdStep";
    Args a(env, info, 10, name);
    size_t boundCount;
    const int32_t *bounds = a.int32s(3, &boundCount, name);
    if (boundCount < 1 || bounds[0] != 0) throw JsError{"sgdStep: bounds must start at 0"};
    for (size_t s = 1; s < boundCount; s++)
      if (bounds[s] < bounds[s - 1]) throw JsError{"sgdStep: bounds must not decrease"};
    const size_t segments = boundCount - 1, total = size_t(bounds[segments]);
    // Checked in argument order (a call's arguments are evaluated in no fixed order).
    float *params = a.floats(0, total, name);
    const float *grads = a.floats(1, total, name);
    float *buffers = a.floats(2, total, name);
    const float *weightDecays = a.floats(4, segments, name), *lrs = a.floats(5, segments, name);
    elementwise().sgdStep(params, grads, buffers, bounds, weightDecays, lrs, segments, float(a.number(6, name)), a.number(7, name),
                          a.boolean(8, name), a.boolean(9, name));
    return undefinedValue(env);
  });
}

// peakGflops(seconds): multiply-add throughput of all threads, the machine's peak for this build.
napi_value PeakGflops(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1, "peakGflops");
    double seconds = a.number(0, "peakGflops");
    if (!(seconds > 0 && seconds <= 10)) throw JsError{"peakGflops: seconds must be in (0, 10]"};
    napi_value out;
    check(napi_create_double(env, elementwise().peakGflops(seconds), &out), "peakGflops");
    return out;
  });
}

// convForwardAffine(x, filter, bias, y, geometry, relu)
napi_value ConvForwardAffine(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 6, "convForwardAffine");
    Geometry g = a.geometry(4, "convForwardAffine");
    convForwardAffine(g, a.floats(0, elements(g.src()), "convForwardAffine"), a.floats(1, elements(g.weights()), "convForwardAffine"),
                      a.floats(2, size_t(g.k), "convForwardAffine"), a.floats(3, elements(g.dst()), "convForwardAffine"),
                      a.boolean(5, "convForwardAffine"));
    return undefinedValue(env);
  });
}

// setConvolutionLayouts(forward, data, weights): 'nhwc' or 'blocked' for each direction, to
// measure one against the other. Primitives are cached per layout, so switching back is free.
napi_value SetConvolutionLayouts(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 3, "setConvolutionLayouts");
    convolutionLayouts = ConvolutionLayouts{parseLayout(a.string(0, "setConvolutionLayouts"), "forward"),
                                            parseLayout(a.string(1, "setConvolutionLayouts"), "data"),
                                            parseLayout(a.string(2, "setConvolutionLayouts"), "weights")};
    diffDstCache.source = nullptr;
    return undefinedValue(env);
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1, "setThreads");
    int64_t n = a.integer(0, "setThreads");
    if (n < 1 || n > 1024) throw JsError{"setThreads: threads must be from 1 to 1024"};
    omp_set_num_threads(int(n));
    return undefinedValue(env);
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    napi_value out, isa, onednn, threads, buffered, reused, reorders;
    check(napi_create_object(env, &out), "info");
    check(napi_create_string_utf8(env, elementwise().isa, NAPI_AUTO_LENGTH, &isa), "info");
    const dnnl_version_t *v = dnnl_version();
    std::string version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    check(napi_create_string_utf8(env, version.c_str(), NAPI_AUTO_LENGTH, &onednn), "info");
    check(napi_create_int32(env, omp_get_max_threads(), &threads), "info");
    double bytes = double(inputBuffer.bytes + weightBuffer.bytes + outputBuffer.bytes + scratchpadBuffer.bytes + diffDstCache.buffer.bytes);
    check(napi_create_double(env, bytes, &buffered), "info");
    check(napi_create_double(env, double(diffDstCache.reused), &reused), "info");
    check(napi_set_named_property(env, out, "isa", isa), "info");
    check(napi_set_named_property(env, out, "onednn", onednn), "info");
    check(napi_set_named_property(env, out, "threads", threads), "info");
    check(napi_set_named_property(env, out, "bufferBytes", buffered), "info");
    check(napi_set_named_property(env, out, "reusedDiffDst", reused), "info");
    check(napi_create_double(env, double(activationReorders), &reorders), "info");
    check(napi_set_named_property(env, out, "activationReorders", reorders), "info");
    napi_value layouts, forward, data, weights;
    check(napi_create_object(env, &layouts), "info");
    check(napi_create_string_utf8(env, layoutName(convolutionLayouts.forward), NAPI_AUTO_LENGTH, &forward), "info");
    check(napi_create_string_utf8(env, layoutName(convolutionLayouts.data), NAPI_AUTO_LENGTH, &data), "info");
    check(napi_create_string_utf8(env, layoutName(convolutionLayouts.weights), NAPI_AUTO_LENGTH, &weights), "info");
    check(napi_set_named_property(env, layouts, "forward", forward), "info");
    check(napi_set_named_property(env, layouts, "data", data), "info");
    check(napi_set_named_property(env, layouts, "weights", weights), "info");
    check(napi_set_named_property(env, out, "convolutionLayouts", layouts), "info");
    return out;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"convForward", nullptr, ConvForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackwardData", nullptr, ConvBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackwardWeights", nullptr, ConvBackwardWeights, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convForwardAffine", nullptr, ConvForwardAffine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"add", nullptr, Add, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"channelSums", nullptr, ChannelSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"channelGradSums", nullptr, ChannelGradSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"channelAffine", nullptr, ChannelAffine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shortcutAdd", nullptr, ShortcutAdd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shortcutGrad", nullptr, ShortcutGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdStep", nullptr, SgdStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"peakGflops", nullptr, PeakGflops, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setConvolutionLayouts", nullptr, SetConvolutionLayouts, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
