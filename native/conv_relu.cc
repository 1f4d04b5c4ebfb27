// A convolution and the ReLU after it as one autograd node (option
// fuseConvRelu), so that on CUDA the forward pass can be cuDNN's fused
// convolution + bias + ReLU kernel (at::cudnn_convolution_relu, the kernel
// PyTorch uses for frozen inference graphs).
//
// Why: at::conv2d on cuDNN writes the convolution's output, adds the bias in
// a second pass over it, and torch::relu reads it a third time and writes a
// new tensor. At batch 512 in bf16, ALL-CNN-C's activations are about 350 MB
// per forward pass, so those two passes move some 1.4 GB per step that the
// fused kernel does not (device.sh profile measures what that is worth).
//
// The backward pass is the one autograd runs for the two ops unfused:
// threshold_backward (ReLU's) on the saved output, then convolution_backward
// (ConvolutionBackward0's). On the CPU the forward pass is also the unfused
// ops, so there the option trains bit for bit as without it (test/conv-relu).
#include "net.h"

#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

namespace allcnn {
namespace {

namespace ag = torch::autograd;

// cuDNN's fused kernels come from its runtime-fusion engine, which wants
// channel counts it can vectorise; a layer it might refuse (ALL-CNN-C's
// first convolution has 3 input channels, its last 10 outputs) runs unfused.
bool CudnnFusable(const torch::Tensor& x, const torch::Tensor& w) {
  return x.is_cuda() && torch::cuda::cudnn_is_available() && at::globalContext().userEnabledCuDNN() &&
         x.dim() == 4 && x.size(1) % 8 == 0 && w.size(0) % 8 == 0;
}

struct ConvReluFunction : public ag::Function<ConvReluFunction> {
  static torch::Tensor forward(ag::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& b, int64_t stride, int64_t padding) {
    torch::Tensor y = CudnnFusable(x, w)
                          ? at::cudnn_convolution_relu(x, w, b, {stride, stride}, {padding, padding}, {1, 1}, 1)
                          : torch::relu(torch::conv2d(x, w, b, {stride, stride}, {padding, padding}));
    ctx->save_for_backward({x, w, y});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["bias"] = b.defined();
    return y;
  }

  static ag::variable_list backward(ag::AutogradContext* ctx, ag::variable_list grads) {
    ag::variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &w = saved[1], &y = saved[2];
    int64_t stride = ctx->saved_data["stride"].toInt(), padding = ctx->saved_data["padding"].toInt();
    bool bias = ctx->saved_data["bias"].toBool();
    torch::Tensor gy = at::threshold_backward(grads[0], y, 0);
    std::vector<int64_t> biasSizes{w.size(0)};
    auto [gx, gw, gb] = at::convolution_backward(
        gy, x, w, bias ? at::OptionalIntArrayRef(biasSizes) : at::OptionalIntArrayRef(), {stride, stride},
        {padding, padding}, {1, 1}, /*transposed=*/false, {0, 0}, /*groups=*/1,
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1), bias && ctx->needs_input_grad(2)});
    return {gx, gw, gb, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ConvRelu(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride,
                       int64_t padding, const c10::optional<torch::Dtype>& autocast) {
  RECORD_USER_SCOPE("allcnn::conv_relu");  // a name for the profiler (lib/profile.ts); free otherwise
  if (!autocast) return ConvReluFunction::apply(x, w, b, stride, padding);
  // Autocast does not know this function: cast as it would for conv2d, before
  // the node, so that autograd casts the gradients back (and the weights'
  // casts are cached as conv2d's would be).
  auto cast = [&](const torch::Tensor& t) {
    return t.defined() ? at::autocast::cached_cast(*autocast, t, x.device().type()) : t;
  };
  return ConvReluFunction::apply(cast(x), cast(w), cast(b), stride, padding);
}

}  // namespace allcnn
