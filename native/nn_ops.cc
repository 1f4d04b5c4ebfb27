// nn_* and optim_*: the neural-net functions the All-CNN family and its
// ablations need, and the fused SGD update.
#include "common.h"

#include <ATen/record_function.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/upsampling.h>

#include <limits>

namespace allcnn {

torch::Tensor Dropout(const torch::Tensor& x, double p, bool train, const c10::optional<at::Generator>& generator) {
  bool draws = train && x.is_floating_point() && p > 0 && p < 1 && x.numel() > 0;  // not NaN either
  if (draws && x.is_cuda() && generator) {
    // torch::dropout's CUDA kernel, which takes no generator; _fused_dropout
    // runs the same kernel with one (its p is the probability to keep).
    return std::get<0>(at::_fused_dropout(x, 1 - p, generator));
  }
  if (!draws || !x.device().is_cpu()) return torch::dropout(x, p, train);  // also its errors, e.g. for p out of [0, 1]
  // LibTorch's CPU dropout draws its mask with bernoulli_, one number at a
  // time: for a [128, 96, 16, 16] batch on the 2-core EPYC, 50 ms, 38 of
  // them in bernoulli_, and 27% of Strided-CNN-A's CPU step in all
  // (npm run bench:profile). This draws the same kind of mask from uniform
  // numbers in 12 ms: keep where u >= p, probability 1 - p, scaled by
  // 1 / (1 - p) as LibTorch does. CUDA keeps LibTorch's fused kernel.
  // The numbers are drawn in NCHW order whatever x's layout, so that a
  // channels-last run drops the same units as an NCHW one.
  RECORD_USER_SCOPE("allcnn::dropout");  // a name for the profiler (lib/profile.ts)
  // Drawn in float32 for bf16 and fp16 inputs: their uniform numbers come in
  // steps of 1/256 (bf16), so p = 0.001 would drop 0.4% of the units.
  bool reduced = x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf;
  torch::Tensor u = torch::rand(x.sizes(), generator, reduced ? x.options().dtype(torch::kFloat) : x.options());
  torch::Tensor mask = u.ge_(p).div_(1 - p).to(x.scalar_type());
  return x * mask.contiguous(x.suggest_memory_format());
}

torch::Tensor SgdDirection(const torch::Tensor& p, torch::Tensor& buf, double momentum, double weightDecay, bool nesterov) {
  const torch::Tensor& g = p.grad();
  torch::Tensor d = weightDecay != 0 ? g.add(p, weightDecay) : g;
  buf.mul_(momentum).add_(d);
  return nesterov ? d.add(buf, momentum) : buf;
}

namespace {

namespace F = torch::nn::functional;

// Kernel, stride, padding and dilation: LibTorch 1.13's convolution and
// pooling kernels keep them in 32-bit ints, so 2^32 + 2 as a kernel pooled
// as 2, a silently wrong result (found by an exploratory session of the API).
std::vector<int64_t> Sizes32(const Args& a, size_t i) {
  std::vector<int64_t> v = a.ints(i);
  for (int64_t x : v) {
    if (x < 0 || x > std::numeric_limits<int32_t>::max()) a.fail(i, "sizes from 0 to 2147483647");
  }
  return v;
}

// nn_conv2d(x, weight, bias|null, stride[2], padding[2], dilation[2], groups)
ALLCNN_OP(nn_conv2d) {
  // groups of 2^32 and more reach an integer division by zero inside
  // LibTorch (SIGFPE, found by scripts/fuzz-addon.js).
  int64_t groups = a.int64(6);
  if (groups < 1 || groups > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("groups must be an integer from 1 to 2147483647, got " + std::to_string(groups));
  }
  // In order, so that the first bad one is named (a call's arguments are evaluated in no set order).
  std::vector<int64_t> stride = Sizes32(a, 3), padding = Sizes32(a, 4), dilation = Sizes32(a, 5);
  return a.wrap(torch::conv2d(a.tensor(0), a.tensor(1), a.optTensor(2), stride, padding, dilation, groups));
}
// nn_max_pool2d(x, kernel[2], stride[2], padding[2], ceilMode)
ALLCNN_OP(nn_max_pool2d) {
  std::vector<int64_t> kernel = Sizes32(a, 1), stride = Sizes32(a, 2), padding = Sizes32(a, 3);
  return a.wrap(torch::max_pool2d(a.tensor(0), kernel, stride, padding, {1, 1}, a.boolean(4)));
}
ALLCNN_OP(nn_avg_pool2d) {
  std::vector<int64_t> kernel = Sizes32(a, 1), stride = Sizes32(a, 2), padding = Sizes32(a, 3);
  return a.wrap(torch::avg_pool2d(a.tensor(0), kernel, stride, padding, a.boolean(4)));
}
ALLCNN_OP(nn_adaptive_avg_pool2d) { return a.wrap(torch::adaptive_avg_pool2d(a.tensor(0), a.ints(1))); }
ALLCNN_OP(nn_relu) { return a.wrap(torch::relu(a.tensor(0))); }
// nn_dropout(x, p, training, generator?)
ALLCNN_OP(nn_dropout) {
  RandomDraw draw;
  return a.wrap(Dropout(a.tensor(0), a.number(1), a.boolean(2), a.generator(3)));
}
// nn_batch_norm(x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps)
ALLCNN_OP(nn_batch_norm) {
  CheckBatchStatistics(a.tensor(0), a.boolean(5));
  return a.wrap(torch::batch_norm(a.tensor(0), a.optTensor(1), a.optTensor(2), a.optTensor(3), a.optTensor(4),
                                  a.boolean(5), a.number(6), a.number(7), /*cudnn_enabled=*/true));
}
ALLCNN_OP(nn_linear) { return a.wrap(torch::linear(a.tensor(0), a.tensor(1), a.optTensor(2))); }
ALLCNN_OP(nn_log_softmax) { return a.wrap(torch::log_softmax(a.tensor(0), a.int64(1))); }
// nn_cross_entropy(logits[N,K], target[N] int64, labelSmoothing): mean over N.
ALLCNN_OP(nn_cross_entropy) {
  torch::Tensor logits = a.tensor(0), target = a.tensor(1);
  if (logits.dim() >= 1) CheckIndexRange(target, logits.size(logits.dim() == 1 ? 0 : 1), "the target's class index");
  return a.wrap(F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().label_smoothing(a.number(2)).ignore_index(kNoIgnoredLabel)));
}
// nn_interpolate(x, size[2], mode "bilinear"|"nearest", alignCorners)
ALLCNN_OP(nn_interpolate) {
  std::string mode = a.string(2);
  F::InterpolateFuncOptions opts;
  opts.size(a.ints(1));
  if (mode == "bilinear") opts.mode(torch::kBilinear).align_corners(a.boolean(3));
  else if (mode == "nearest") opts.mode(torch::kNearest);
  else throw std::invalid_argument("unknown interpolation mode \"" + mode + "\" (bilinear, nearest)");
  return a.wrap(F::interpolate(a.tensor(0), opts));
}
// nn_affine_grid(theta[N,2,3], size[4], alignCorners)
ALLCNN_OP(nn_affine_grid) { return a.wrap(torch::affine_grid_generator(a.tensor(0), a.ints(1), a.boolean(2))); }
// nn_grid_sample(x, grid, mode "bilinear"|"nearest", padding "zeros"|"border"|"reflection", alignCorners)
ALLCNN_OP(nn_grid_sample) {
  std::string mode = a.string(2), padding = a.string(3);
  int64_t m = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : -1;
  int64_t p = padding == "zeros" ? 0 : padding == "border" ? 1 : padding == "reflection" ? 2 : -1;
  if (m < 0) throw std::invalid_argument("unknown grid_sample mode \"" + mode + "\" (bilinear, nearest)");
  if (p < 0) throw std::invalid_argument("unknown grid_sample padding \"" + padding + "\" (zeros, border, reflection)");
  return a.wrap(torch::grid_sampler(a.tensor(0), a.tensor(1), m, p, a.boolean(4)));
}
// nn_correct(logits[N,K], target[N]): number of argmax hits, as a 0-d int64 tensor.
ALLCNN_OP(nn_correct) { return a.wrap(a.tensor(0).argmax(1).eq(a.tensor(1)).sum()); }

// optim_sgd_step(params[], momentumBuffers[], lr, momentum, weightDecay, nesterov)
// One call for the whole update (PyTorch's convention, coupled L2):
//   d = grad + wd * p;  buf = momentum * buf + d;  p -= lr * (nesterov ? d + momentum * buf : buf)
// Parameters without a gradient (frozen) are skipped.
ALLCNN_OP(optim_sgd_step) {
  auto params = a.tensors(0);
  auto bufs = a.tensors(1);
  if (params.size() != bufs.size()) throw std::invalid_argument("params and momentum buffers differ in length");
  double lr = a.number(2), momentum = a.number(3), wd = a.number(4);
  bool nesterov = a.boolean(5);
  torch::NoGradGuard noGrad;
  for (size_t k = 0; k < params.size(); ++k) {
    torch::Tensor& p = params[k];
    if (!p.grad().defined()) continue;
    p.add_(SgdDirection(p, bufs[k], momentum, wd, nesterov), -lr);
  }
  return a.env().Undefined();
}

}  // namespace

void InitNnOps(Napi::Env env, Napi::Object e) {
  ALLCNN_EXPORT(e, nn_conv2d); ALLCNN_EXPORT(e, nn_max_pool2d); ALLCNN_EXPORT(e, nn_avg_pool2d);
  ALLCNN_EXPORT(e, nn_adaptive_avg_pool2d); ALLCNN_EXPORT(e, nn_relu); ALLCNN_EXPORT(e, nn_dropout);
  ALLCNN_EXPORT(e, nn_batch_norm); ALLCNN_EXPORT(e, nn_linear); ALLCNN_EXPORT(e, nn_log_softmax);
  ALLCNN_EXPORT(e, nn_cross_entropy); ALLCNN_EXPORT(e, nn_interpolate); ALLCNN_EXPORT(e, nn_affine_grid);
  ALLCNN_EXPORT(e, nn_grid_sample); ALLCNN_EXPORT(e, nn_correct); ALLCNN_EXPORT(e, optim_sgd_step);
}

}  // namespace allcnn
