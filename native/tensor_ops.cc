// tensor_*: creation, layout, math, autograd and data transfer.
#include "common.h"

#include <torch/nn/functional/padding.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <unordered_map>

namespace allcnn {
namespace {

torch::TensorOptions Opts(const Args& a, size_t dtypeArg, size_t deviceArg) {
  return torch::TensorOptions().dtype(a.dtype(dtypeArg)).device(a.device(deviceArg));
}

// Creation ------------------------------------------------------------------

ALLCNN_OP(tensor_zeros) { return a.wrap(torch::zeros(a.ints(0), Opts(a, 1, 2))); }
ALLCNN_OP(tensor_ones) { return a.wrap(torch::ones(a.ints(0), Opts(a, 1, 2))); }
ALLCNN_OP(tensor_empty) { return a.wrap(torch::empty(a.ints(0), Opts(a, 1, 2))); }
ALLCNN_OP(tensor_full) { return a.wrap(torch::full(a.ints(0), a.value(1), Opts(a, 2, 3))); }
ALLCNN_OP(tensor_rand) {
  RandomDraw draw;
  return a.wrap(torch::rand(a.ints(0), a.generator(3), Opts(a, 1, 2)));
}
ALLCNN_OP(tensor_randn) {
  RandomDraw draw;
  return a.wrap(torch::randn(a.ints(0), a.generator(3), Opts(a, 1, 2)));
}
ALLCNN_OP(tensor_arange) {
  return a.wrap(torch::arange(a.number(0), a.number(1), a.number(2), Opts(a, 3, 4)));
}
ALLCNN_OP(tensor_randint) {
  RandomDraw draw;
  return a.wrap(torch::randint(a.int64(0), a.int64(1), a.ints(2), a.generator(4),
                               torch::TensorOptions().dtype(torch::kInt64).device(a.device(3))));
}
ALLCNN_OP(tensor_randperm) {
  RandomDraw draw;
  return a.wrap(torch::randperm(a.int64(0), a.generator(2), torch::TensorOptions().dtype(torch::kInt64).device(a.device(1))));
}
ALLCNN_OP(tensor_manual_seed) {
  RandomDraw draw;
  torch::manual_seed(static_cast<uint64_t>(a.int64(0)));
  return a.env().Undefined();
}

// From a TypedArray or Buffer: one copy into LibTorch-owned memory, so the
// tensor never depends on the lifetime of a V8 buffer.
ALLCNN_OP(tensor_from_buffer) {
  if (!a.raw(0).IsTypedArray()) a.fail(0, "a TypedArray or Buffer");
  auto arr = a.raw(0).As<Napi::TypedArray>();
  auto shape = a.ints(1);
  torch::Dtype dtype = a.dtype(2);
  // Counted with overflow checks: a shape of [2^40, 2^40] would otherwise
  // wrap around and ask for a nonsense number of bytes.
  int64_t numel = 1, bytes = 0;
  bool tooBig = false;
  for (int64_t s : shape) {
    if (s < 0) throw std::invalid_argument("shape has a negative size");
    tooBig |= __builtin_mul_overflow(numel, s, &numel);
  }
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) numel = 0, tooBig = false;
  int64_t itemsize = static_cast<int64_t>(c10::elementSize(dtype));
  if (tooBig || __builtin_mul_overflow(numel, itemsize, &bytes)) {
    throw std::invalid_argument("shape has more elements than a tensor can hold (more than 2^63 bytes)");
  }
  if (arr.ByteLength() != static_cast<size_t>(bytes)) {
    throw std::invalid_argument("buffer holds " + std::to_string(arr.ByteLength()) + " bytes but shape and dtype " +
                                DtypeName(dtype) + " need " + std::to_string(bytes));
  }
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  auto* src = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  if (numel > 0) std::memcpy(t.data_ptr(), src, arr.ByteLength());
  // A bool tensor must hold only 0 and 1: normalise arbitrary bytes.
  if (dtype == torch::kBool) t = t.view(torch::kUInt8).ne(0);
  return a.wrap(t);
}

// To a TypedArray of the matching kind (one copy; bf16/f16 as raw Uint16 bits).
ALLCNN_OP(tensor_to_buffer) {
  torch::Tensor t = a.tensor(0).detach().to(torch::kCPU).contiguous();
  Napi::Env env = a.env();
  size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  size_t n = static_cast<size_t>(t.numel());
  switch (t.scalar_type()) {
    case torch::kFloat32: return Napi::Float32Array::New(env, n, buf, 0);
    case torch::kFloat64: return Napi::Float64Array::New(env, n, buf, 0);
    case torch::kInt32: return Napi::Int32Array::New(env, n, buf, 0);
    case torch::kInt64: return Napi::BigInt64Array::New(env, n, buf, 0);
    case torch::kFloat16:
    case torch::kBFloat16: return Napi::Uint16Array::New(env, n, buf, 0);
    default: return Napi::Uint8Array::New(env, n, buf, 0);
  }
}

ALLCNN_OP(tensor_item) {
  torch::Tensor t = a.tensor(0);
  if (t.numel() != 1) throw std::invalid_argument("item() needs a tensor with one element, got " + std::to_string(t.numel()));
  return Napi::Number::New(a.env(), t.item<double>());
}

// Properties ------------------------------------------------------------------

ALLCNN_OP(tensor_info) {
  const torch::Tensor& t = a.tensor(0);
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  auto toArray = [&](c10::IntArrayRef r) {
    Napi::Array arr = Napi::Array::New(env, r.size());
    for (size_t k = 0; k < r.size(); ++k) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(env, static_cast<double>(r[k])));
    return arr;
  };
  o.Set("shape", toArray(t.sizes()));
  o.Set("strides", toArray(t.strides()));
  o.Set("dtype", DtypeName(t.scalar_type()));
  o.Set("device", t.device().str());
  o.Set("requiresGrad", t.requires_grad());
  o.Set("isLeaf", t.is_leaf());
  o.Set("contiguous", t.is_contiguous());
  o.Set("channelsLast", t.dim() == 4 && t.is_contiguous(at::MemoryFormat::ChannelsLast));
  return o;
}

// Layout ------------------------------------------------------------------

ALLCNN_OP(tensor_reshape) { return a.wrap(a.tensor(0).reshape(a.ints(1))); }
ALLCNN_OP(tensor_view) { return a.wrap(a.tensor(0).view(a.ints(1))); }
ALLCNN_OP(tensor_permute) { return a.wrap(a.tensor(0).permute(a.ints(1))); }
ALLCNN_OP(tensor_transpose) { return a.wrap(a.tensor(0).transpose(a.int64(1), a.int64(2))); }
ALLCNN_OP(tensor_expand) { return a.wrap(a.tensor(0).expand(a.ints(1))); }
ALLCNN_OP(tensor_squeeze) { return a.wrap(a.tensor(0).squeeze(a.int64(1))); }
ALLCNN_OP(tensor_unsqueeze) { return a.wrap(a.tensor(0).unsqueeze(a.int64(1))); }
ALLCNN_OP(tensor_contiguous) {
  bool channelsLast = a.has(1) && a.boolean(1);
  return a.wrap(a.tensor(0).contiguous(channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
}
ALLCNN_OP(tensor_narrow) { return a.wrap(a.tensor(0).narrow(a.int64(1), a.int64(2), a.int64(3))); }
ALLCNN_OP(tensor_slice) {
  return a.wrap(a.tensor(0).slice(a.int64(1), a.int64(2), a.int64(3), a.int64(4)));
}
// tensor_index_select(x, dim, index, checked = true). A 0-dim tensor indexed
// with other than one index: LibTorch 1.13 writes past the result (heap
// corruption, found by scripts/fuzz-addon.js); 2.x refuses it, and so do we.
ALLCNN_OP(tensor_index_select) {
  torch::Tensor x = a.tensor(0), index = a.tensor(2);
  if (x.dim() == 0 && index.numel() != 1) {
    throw std::invalid_argument("the index to a 0-dim tensor must have exactly 1 value, got " + std::to_string(index.numel()));
  }
  int64_t dim = a.int64(1);
  if (!a.has(3) || a.boolean(3)) CheckIndexRange(index, x.dim() == 0 ? 1 : x.size(dim), "the index");
  return a.wrap(x.index_select(dim, index));
}
// tensor_gather(x, dim, index, checked = true); like tensor_index_select,
// unchecked only for indices the library made in range itself (its batches
// and translations), where a check's host sync on CUDA would cost every step.
ALLCNN_OP(tensor_gather) {
  torch::Tensor x = a.tensor(0), index = a.tensor(2);
  int64_t dim = a.int64(1);
  if (!a.has(3) || a.boolean(3)) CheckIndexRange(index, x.dim() == 0 ? 1 : x.size(dim), "the index");
  return a.wrap(x.gather(dim, index));
}
ALLCNN_OP(tensor_cat) { return a.wrap(torch::cat(a.tensors(0), a.int64(1))); }
ALLCNN_OP(tensor_stack) { return a.wrap(torch::stack(a.tensors(0), a.int64(1))); }
ALLCNN_OP(tensor_flip) { return a.wrap(a.tensor(0).flip(a.ints(1))); }
ALLCNN_OP(tensor_pad) {
  namespace F = torch::nn::functional;
  std::string mode = a.string(2);
  F::PadFuncOptions opts(a.ints(1));
  if (mode == "constant") opts.mode(torch::kConstant).value(a.value(3));  // NaN too, as full() and F.pad
  else if (mode == "reflect") opts.mode(torch::kReflect);
  else if (mode == "replicate") opts.mode(torch::kReplicate);
  else if (mode == "circular") opts.mode(torch::kCircular);
  else throw std::invalid_argument("unknown pad mode \"" + mode + "\" (constant, reflect, replicate, circular)");
  return a.wrap(F::pad(a.tensor(0), opts));
}
ALLCNN_OP(tensor_clone) { return a.wrap(a.tensor(0).clone()); }
ALLCNN_OP(tensor_to) {
  bool nonBlocking = a.has(3) && a.boolean(3);
  torch::Tensor t = a.tensor(0);
  torch::Device device = a.has(1) ? a.device(1) : t.device();
  torch::Dtype dtype = a.has(2) ? a.dtype(2) : t.scalar_type();
  return a.wrap(t.to(device, dtype, nonBlocking));
}

// Math ------------------------------------------------------------------
// Binary ops take a Tensor or a number as their second operand.

using Binary = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;
using BinaryScalar = std::function<torch::Tensor(const torch::Tensor&, const torch::Scalar&)>;

const std::unordered_map<std::string, std::pair<Binary, BinaryScalar>>& BinaryOps() {
#define BIN(name, expr_t, expr_s)                                                               \
  {                                                                                             \
    name, {                                                                                     \
      [](const torch::Tensor& x, const torch::Tensor& y) { return expr_t; },                    \
          [](const torch::Tensor& x, const torch::Scalar& y) { return expr_s; }                 \
    }                                                                                           \
  }
  static const std::unordered_map<std::string, std::pair<Binary, BinaryScalar>> ops = {
      BIN("add", x + y, x + y), BIN("sub", x - y, x - y), BIN("mul", x * y, x * y),
      BIN("div", x / y, x / y), BIN("pow", x.pow(y), x.pow(y)),
      BIN("maximum", torch::maximum(x, y), torch::clamp_min(x, y)),
      BIN("minimum", torch::minimum(x, y), torch::clamp_max(x, y)),
      BIN("eq", x.eq(y), x.eq(y)), BIN("ne", x.ne(y), x.ne(y)), BIN("lt", x.lt(y), x.lt(y)),
      BIN("le", x.le(y), x.le(y)), BIN("gt", x.gt(y), x.gt(y)), BIN("ge", x.ge(y), x.ge(y)),
      BIN("logical_and", x.logical_and(y), x.logical_and(torch::scalar_tensor(y, x.device()))),
      BIN("logical_or", x.logical_or(y), x.logical_or(torch::scalar_tensor(y, x.device()))),
  };
#undef BIN
  return ops;
}

// A JS number as a Scalar: integral when it is a whole number and x is an
// integer tensor, so int64 indices stay int64 (x * 3 must not become float).
// Every double from 2^53 up is whole: up to 2^63 it fits int64 exactly (as
// a float, int64 2^60 + 1 compared equal to 2^60).
torch::Scalar ScalarFor(const torch::Tensor& x, double v) {
  if (!c10::isFloatingType(x.scalar_type()) && std::floor(v) == v && std::fabs(v) < 9223372036854775808.0) {
    return torch::Scalar(static_cast<int64_t>(v));
  }
  return torch::Scalar(v);
}

ALLCNN_OP(tensor_binary) {
  std::string op = a.string(0);
  auto it = BinaryOps().find(op);
  if (it == BinaryOps().end()) throw std::invalid_argument("unknown binary op \"" + op + "\"");
  torch::Tensor x = a.tensor(1);
  if (a.isTensor(2)) return a.wrap(it->second.first(x, a.tensor(2)));
  return a.wrap(it->second.second(x, ScalarFor(x, a.value(2))));
}

// In place: x op= y, returns nothing (the handle x now holds the result).
ALLCNN_OP(tensor_binary_) {
  std::string op = a.string(0);
  torch::Tensor x = a.tensor(1);
  bool isT = a.isTensor(2);
  torch::Tensor y = isT ? a.tensor(2) : torch::Tensor();
  torch::Scalar s = isT ? torch::Scalar(0) : ScalarFor(x, a.value(2));
  if (op == "add") isT ? x.add_(y) : x.add_(s);
  else if (op == "sub") isT ? x.sub_(y) : x.sub_(s);
  else if (op == "mul") isT ? x.mul_(y) : x.mul_(s);
  else if (op == "div") isT ? x.div_(y) : x.div_(s);
  else if (op == "copy") { if (!isT) a.fail(2, "a Tensor"); x.copy_(y); }
  else throw std::invalid_argument("unknown in-place op \"" + op + "\" (add, sub, mul, div, copy)");
  return a.env().Undefined();
}

ALLCNN_OP(tensor_unary) {
  static const std::unordered_map<std::string, std::function<torch::Tensor(const torch::Tensor&)>> ops = {
      {"exp", [](const torch::Tensor& x) { return x.exp(); }},
      {"log", [](const torch::Tensor& x) { return x.log(); }},
      {"sqrt", [](const torch::Tensor& x) { return x.sqrt(); }},
      {"rsqrt", [](const torch::Tensor& x) { return x.rsqrt(); }},
      {"neg", [](const torch::Tensor& x) { return x.neg(); }},
      {"abs", [](const torch::Tensor& x) { return x.abs(); }},
      {"square", [](const torch::Tensor& x) { return x.square(); }},
      {"relu", [](const torch::Tensor& x) { return torch::relu(x); }},
      {"sigmoid", [](const torch::Tensor& x) { return torch::sigmoid(x); }},
      {"tanh", [](const torch::Tensor& x) { return torch::tanh(x); }},
      {"floor", [](const torch::Tensor& x) { return x.floor(); }},
      {"round", [](const torch::Tensor& x) { return x.round(); }},
      {"sign", [](const torch::Tensor& x) { return x.sign(); }},
      {"logical_not", [](const torch::Tensor& x) { return x.logical_not(); }},
      {"isnan", [](const torch::Tensor& x) { return x.isnan(); }},
      {"detach", [](const torch::Tensor& x) { return x.detach(); }},
  };
  std::string op = a.string(0);
  auto it = ops.find(op);
  if (it == ops.end()) throw std::invalid_argument("unknown unary op \"" + op + "\"");
  return a.wrap(it->second(a.tensor(1)));
}

ALLCNN_OP(tensor_fill_) {
  a.tensor(0).fill_(a.value(1));
  return a.env().Undefined();
}
ALLCNN_OP(tensor_uniform_) {
  torch::NoGradGuard noGrad;
  RandomDraw draw;
  a.tensor(0).uniform_(a.number(1), a.number(2), a.generator(3));
  return a.env().Undefined();
}
ALLCNN_OP(tensor_normal_) {
  torch::NoGradGuard noGrad;
  RandomDraw draw;
  a.tensor(0).normal_(a.number(1), a.number(2), a.generator(3));
  return a.env().Undefined();
}
ALLCNN_OP(tensor_clamp) {
  c10::optional<torch::Scalar> lo, hi;
  if (a.has(1)) lo = a.number(1);
  if (a.has(2)) hi = a.number(2);
  return a.wrap(a.tensor(0).clamp(lo, hi));
}
ALLCNN_OP(tensor_where) { return a.wrap(torch::where(a.tensor(0), a.tensor(1), a.tensor(2))); }
ALLCNN_OP(tensor_matmul) { return a.wrap(torch::matmul(a.tensor(0), a.tensor(1))); }
ALLCNN_OP(tensor_outer) { return a.wrap(torch::outer(a.tensor(0), a.tensor(1))); }
ALLCNN_OP(tensor_eigh) {
  auto [values, vectors] = torch::linalg_eigh(a.tensor(0), "L");
  return a.wrapAll({values, vectors});
}

// Reductions: dims = null reduces everything.
ALLCNN_OP(tensor_reduce) {
  std::string op = a.string(0);
  torch::Tensor x = a.tensor(1);
  bool all = !a.has(2);
  std::vector<int64_t> dims = all ? std::vector<int64_t>{} : a.ints(2);
  bool keep = a.has(3) && a.boolean(3);
  bool unbiased = !a.has(4) || a.boolean(4);
  if (all && !keep) {
    if (op == "sum") return a.wrap(x.sum());
    if (op == "mean") return a.wrap(x.mean());
    if (op == "max") return a.wrap(x.max());
    if (op == "min") return a.wrap(x.min());
    if (op == "var") return a.wrap(x.var(unbiased));
    if (op == "std") return a.wrap(x.std(unbiased));
    if (op == "argmax") return a.wrap(x.argmax());
  }
  // As torch.argmax(x, keepdim=True): the flat index, in a tensor of x's rank with every size 1.
  if (all && op == "argmax") return a.wrap(x.argmax().reshape(std::vector<int64_t>(x.dim(), 1)));
  if (all) for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  if (op == "sum") return a.wrap(x.sum(dims, keep));
  if (op == "mean") return a.wrap(x.mean(dims, keep));
  if (op == "max") return a.wrap(x.amax(dims, keep));
  if (op == "min") return a.wrap(x.amin(dims, keep));
  if (op == "var") return a.wrap(x.var(dims, unbiased, keep));
  if (op == "std") return a.wrap(x.std(dims, unbiased, keep));
  if (op == "argmax") {
    if (dims.size() != 1) throw std::invalid_argument("argmax takes exactly one dim");
    return a.wrap(x.argmax(dims[0], keep));
  }
  throw std::invalid_argument("unknown reduction \"" + op + "\" (sum, mean, max, min, var, std, argmax)");
}

// Autograd ------------------------------------------------------------------

ALLCNN_OP(tensor_set_requires_grad) {
  torch::Tensor t = a.tensor(0);
  bool wanted = a.boolean(1);
  // As PyTorch: LibTorch would leave a non-leaf requiring grad without a word.
  if (!t.is_leaf() && !wanted) {
    throw std::invalid_argument("only a leaf tensor's requiresGrad can be changed: detach() gives a non-leaf's values without a gradient");
  }
  t.set_requires_grad(wanted);
  return a.env().Undefined();
}
ALLCNN_OP(tensor_backward) {
  torch::Tensor t = a.tensor(0);
  if (a.has(1)) t.backward(a.tensor(1));
  else t.backward();
  return a.env().Undefined();
}
// Whether t can hold a gradient: a non-leaf keeps none, and asking for it
// prints LibTorch's glog warning, whose advice (retain_grad()) this API does not offer.
bool KeepsGrad(const torch::Tensor& t) { return t.is_leaf() || t.retains_grad(); }

ALLCNN_OP(tensor_grad) {
  torch::Tensor t = a.tensor(0);
  if (!KeepsGrad(t)) return a.env().Null();
  torch::Tensor g = t.grad();
  if (!g.defined()) return a.env().Null();
  return a.wrap(g);
}
ALLCNN_OP(tensor_zero_grad) {
  torch::Tensor t = a.tensor(0);
  if (KeepsGrad(t) && t.grad().defined()) t.mutable_grad().reset();
  return a.env().Undefined();
}
ALLCNN_OP(tensor_set_grad_enabled) {
  bool previous = torch::GradMode::is_enabled();
  torch::GradMode::set_enabled(a.boolean(0));
  return Napi::Boolean::New(a.env(), previous);
}

}  // namespace

void InitTensorOps(Napi::Env env, Napi::Object e) {
  ALLCNN_EXPORT(e, tensor_zeros); ALLCNN_EXPORT(e, tensor_ones); ALLCNN_EXPORT(e, tensor_empty);
  ALLCNN_EXPORT(e, tensor_full); ALLCNN_EXPORT(e, tensor_rand); ALLCNN_EXPORT(e, tensor_randn);
  ALLCNN_EXPORT(e, tensor_arange); ALLCNN_EXPORT(e, tensor_randint); ALLCNN_EXPORT(e, tensor_randperm);
  ALLCNN_EXPORT(e, tensor_manual_seed); ALLCNN_EXPORT(e, tensor_from_buffer); ALLCNN_EXPORT(e, tensor_to_buffer);
  ALLCNN_EXPORT(e, tensor_item); ALLCNN_EXPORT(e, tensor_info); ALLCNN_EXPORT(e, tensor_reshape);
  ALLCNN_EXPORT(e, tensor_view); ALLCNN_EXPORT(e, tensor_permute); ALLCNN_EXPORT(e, tensor_transpose);
  ALLCNN_EXPORT(e, tensor_expand); ALLCNN_EXPORT(e, tensor_squeeze); ALLCNN_EXPORT(e, tensor_unsqueeze);
  ALLCNN_EXPORT(e, tensor_contiguous); ALLCNN_EXPORT(e, tensor_narrow); ALLCNN_EXPORT(e, tensor_slice);
  ALLCNN_EXPORT(e, tensor_index_select); ALLCNN_EXPORT(e, tensor_gather); ALLCNN_EXPORT(e, tensor_cat);
  ALLCNN_EXPORT(e, tensor_stack); ALLCNN_EXPORT(e, tensor_flip); ALLCNN_EXPORT(e, tensor_pad);
  ALLCNN_EXPORT(e, tensor_clone); ALLCNN_EXPORT(e, tensor_to); ALLCNN_EXPORT(e, tensor_binary);
  ALLCNN_EXPORT(e, tensor_binary_); ALLCNN_EXPORT(e, tensor_unary); ALLCNN_EXPORT(e, tensor_fill_);
  ALLCNN_EXPORT(e, tensor_uniform_); ALLCNN_EXPORT(e, tensor_normal_); ALLCNN_EXPORT(e, tensor_clamp);
  ALLCNN_EXPORT(e, tensor_where); ALLCNN_EXPORT(e, tensor_matmul); ALLCNN_EXPORT(e, tensor_outer);
  ALLCNN_EXPORT(e, tensor_eigh); ALLCNN_EXPORT(e, tensor_reduce); ALLCNN_EXPORT(e, tensor_set_requires_grad);
  ALLCNN_EXPORT(e, tensor_backward); ALLCNN_EXPORT(e, tensor_grad); ALLCNN_EXPORT(e, tensor_zero_grad);
  ALLCNN_EXPORT(e, tensor_set_grad_enabled);
}

}  // namespace allcnn
