// The training step op by op: autocast, the layer program, the loss and the
// SGD update (the same update as lib/train/optim.ts).
#include "net.h"

#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <torch/nn/functional/loss.h>

#include <map>

namespace allcnn {

AutocastScope::AutocastScope(const Net& net, const torch::Device& device, bool cache) {
  if (!net.autocast) return;
  active_ = true;
  type_ = device.type();
  prevCache_ = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(cache);
#if ALLCNN_TORCH_AT_LEAST(2, 4)
  prevEnabled_ = at::autocast::is_autocast_enabled(type_);
  prevDtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, *net.autocast);
#else
  if (type_ == torch::kCUDA) {
    prevEnabled_ = at::autocast::is_enabled();
    prevDtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(*net.autocast);
  } else {
    prevEnabled_ = at::autocast::is_cpu_enabled();
    prevDtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(*net.autocast);
  }
#endif
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
#if ALLCNN_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(type_, prevEnabled_);
  at::autocast::set_autocast_dtype(type_, prevDtype_);
#else
  if (type_ == torch::kCUDA) {
    at::autocast::set_enabled(prevEnabled_);
    at::autocast::set_autocast_gpu_dtype(prevDtype_);
  } else {
    at::autocast::set_cpu_enabled(prevEnabled_);
    at::autocast::set_autocast_cpu_dtype(prevDtype_);
  }
#endif
  at::autocast::clear_cache();
  at::autocast::set_autocast_cache_enabled(prevCache_);
}

torch::Tensor Forward(const Net& net, torch::Tensor x, bool train) {
  if (net.channelsLast) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  auto P = [&](int64_t i) { return i >= 0 ? net.params[i] : torch::Tensor(); };
  auto B = [&](int64_t i) { return i >= 0 ? net.buffers[i] : torch::Tensor(); };
  for (size_t k = 0; k < net.layers.size(); ++k) {
    const Layer& l = net.layers[k];
    switch (l.kind) {
      case Kind::Conv:
        if (net.fuseConvRelu && k + 1 < net.layers.size() && net.layers[k + 1].kind == Kind::Relu) {
          x = ConvRelu(x, P(l.weight), P(l.bias), l.stride, l.padding, net.autocast);
          ++k;  // the ReLU is done
          break;
        }
        x = torch::conv2d(x, P(l.weight), P(l.bias), {l.stride, l.stride}, {l.padding, l.padding});
        break;
      case Kind::Relu: x = torch::relu(x); break;
      case Kind::MaxPool:
        x = torch::max_pool2d(x, {l.kernel, l.kernel}, {l.stride, l.stride}, {l.padding, l.padding});
        break;
      case Kind::AvgPool:
        x = torch::avg_pool2d(x, {l.kernel, l.kernel}, {l.stride, l.stride}, {l.padding, l.padding});
        break;
      case Kind::Dropout: x = Dropout(x, l.p, train, net.generator); break;
      case Kind::Gap: x = x.mean({2, 3}); break;
      case Kind::BatchNorm:
        CheckBatchStatistics(x, train);
        x = torch::batch_norm(x, P(l.weight), P(l.bias), B(l.runningMean), B(l.runningVar), train, l.momentum,
                              l.eps, true);
        break;
      case Kind::Linear: x = torch::linear(x, P(l.weight), P(l.bias)); break;
      case Kind::Flatten: x = x.flatten(1); break;
    }
  }
  return x;
}

namespace {

// Adds in place: a CUDA graph captures these adds against fixed addresses.
void AddMetrics(Net& net, const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& y) {
  RECORD_USER_SCOPE("allcnn::metrics");  // a name for the profiler (lib/profile.ts); free otherwise
  torch::NoGradGuard noGrad;
  EnsureMetricSums(net, y);
  net.lossSum.add_(loss.detach().to(torch::kFloat64) * static_cast<double>(y.size(0)));
  net.correctSum.add_(logits.detach().argmax(1).eq(y).sum());
  net.seen += y.size(0);
}

// The update of lib/train/optim.ts (SgdDirection), one parameter at a time:
// p -= lr scale direction.
void LoopUpdate(Net& net, double lr, const torch::Tensor& lrTensor) {
  for (size_t k = 0; k < net.params.size(); ++k) {
    torch::Tensor& p = net.params[k];
    if (!p.grad().defined()) continue;  // frozen
    torch::Tensor step = SgdDirection(p, net.momentumBuffers[k], net.momentum, net.weightDecay, net.nesterov);
    if (lrTensor.defined()) p.add_(step * lrTensor, -net.lrScales[k]);
    else p.add_(step, -lr * net.lrScales[k]);
  }
}

// The same update with LibTorch's _foreach ops (option foreachSgd): on CUDA
// each line is one multi-tensor kernel for all the parameters rather than one
// kernel per parameter, some 90 small kernels fewer per step for the paper's
// networks. The same arithmetic in the same order. Parameters are grouped by
// learning-rate scale (one group unless fine-tuning).
void ForeachUpdate(Net& net, double lr, const torch::Tensor& lrTensor) {
#if !ALLCNN_TORCH_AT_LEAST(2, 1)
  // Before 2.1 no _foreach op multiplies by a tensor (the captured graph's learning rate).
  if (lrTensor.defined()) return LoopUpdate(net, lr, lrTensor);
#endif
  std::map<double, std::vector<size_t>> groups;
  for (size_t k = 0; k < net.params.size(); ++k) {
    if (net.params[k].grad().defined()) groups[net.lrScales[k]].push_back(k);  // else frozen
  }
  for (const auto& [scale, ks] : groups) {
    std::vector<torch::Tensor> p, g, buf;
    for (size_t k : ks) {
      p.push_back(net.params[k]);
      g.push_back(net.params[k].grad());
      buf.push_back(net.momentumBuffers[k]);
    }
    std::vector<torch::Tensor> d = net.weightDecay != 0 ? at::_foreach_add(g, p, net.weightDecay) : g;
    at::_foreach_mul_(buf, net.momentum);
    at::_foreach_add_(buf, d);
    std::vector<torch::Tensor> step = net.nesterov ? at::_foreach_add(d, buf, net.momentum) : buf;
#if ALLCNN_TORCH_AT_LEAST(2, 1)
    if (lrTensor.defined()) {
      at::_foreach_add_(p, at::_foreach_mul(step, lrTensor), -scale);
      continue;
    }
#endif
    at::_foreach_add_(p, step, -lr * scale);
  }
}

// The SGD update of every parameter with a gradient; with lrTensor defined
// the learning rate is read from it (see EagerStep).
void SgdUpdate(Net& net, double lr, const torch::Tensor& lrTensor) {
  RECORD_USER_SCOPE("allcnn::sgd");  // a name for the profiler (lib/profile.ts); free otherwise
  torch::NoGradGuard noGrad;
  if (net.foreachSgd) ForeachUpdate(net, lr, lrTensor);
  else LoopUpdate(net, lr, lrTensor);
}

}  // namespace

void EnsureMetricSums(Net& net, const torch::Tensor& like) {
  if (net.lossSum.defined()) return;
  net.lossSum = torch::zeros({}, like.options().dtype(torch::kFloat64));
  net.correctSum = torch::zeros({}, like.options().dtype(torch::kInt64));
}

void EagerStep(Net& net, const torch::Tensor& x, const torch::Tensor& y, double lr, const torch::Tensor& lrTensor,
               bool autocastCache) {
  for (auto& p : net.params) {
    if (p.grad().defined()) p.mutable_grad().reset();
  }
  torch::Tensor logits, loss;
  {
    AutocastScope autocast(net, x.device(), autocastCache);
    logits = Forward(net, x, /*train=*/true);
  }
  {
    RECORD_USER_SCOPE("allcnn::loss");
    loss = torch::nn::functional::cross_entropy(
        logits.to(torch::kFloat32), y,
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(net.labelSmoothing).ignore_index(kNoIgnoredLabel));
  }
  loss.backward();
  SgdUpdate(net, lr, lrTensor);
  AddMetrics(net, loss, logits, y);
}

}  // namespace allcnn
