// A whole network on the native side: the layer program declared in
// TypeScript, its tensors (shared with TypeScript, updated in place) and the
// training step. net.cc binds it to JS; step.cc runs it; cuda_graph.cc
// replays the step as one CUDA graph; cuda_stream.cc gives it a stream.
#pragma once

#include "common.h"

#include <c10/core/StreamGuard.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace allcnn {

enum class Kind { Conv, Relu, MaxPool, AvgPool, Dropout, Gap, BatchNorm, Linear, Flatten };

struct Layer {
  Kind kind;
  int64_t weight = -1, bias = -1;             // indices into params
  int64_t runningMean = -1, runningVar = -1;  // indices into buffers
  int64_t kernel = 1, stride = 1, padding = 0;
  double p = 0, momentum = 0.1, eps = 1e-5;
};

// The captured step and its static tensors (cuda_graph.cc). Opaque here so
// that this header needs no CUDA headers.
struct CudaGraphStep;
struct CudaGraphStepDeleter {
  void operator()(CudaGraphStep* step) const;
};

struct Net {
  std::vector<Layer> layers;
  std::vector<torch::Tensor> params, momentumBuffers, buffers;
  std::vector<double> lrScales;  // per parameter: its learning rate is lr * scale
  double momentum = 0.9, weightDecay = 0, labelSmoothing = 0;
  bool nesterov = false, channelsLast = false;
  bool foreachSgd = false;    // the update as _foreach ops (step.cc)
  bool fuseConvRelu = false;  // each convolution and its ReLU as one node (conv_relu.cc)
  c10::optional<torch::Dtype> autocast;
  // Dropout draws from this generator of the network's own (option
  // generator), or from LibTorch's global one without it.
  c10::optional<at::Generator> generator;
  // Training metrics, summed on the device; read (one host sync) and zeroed
  // in place by net_take_metrics, in place because a CUDA graph adds to them.
  torch::Tensor lossSum, correctSum;
  int64_t seen = 0;
  std::atomic<bool> busy{false};

  bool cudaGraph = false;  // asked for: capture the step once its shapes settle
  std::unique_ptr<CudaGraphStep, CudaGraphStepDeleter> graph;

  // A CUDA stream of its own (option cudaStream), so that networks trained at
  // once in one process overlap on the GPU. Without one, the network's work
  // goes to the caller's current stream.
  c10::optional<c10::Stream> stream;

  Net() = default;
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;
  ~Net() {
    // Tensors shared with TypeScript may be freed right after: let the GPU
    // finish with them. A destructor must not throw (at exit CUDA may be gone).
    try {
      if (stream) stream->synchronize();
    } catch (...) {
    }
  }
};

// `waiter` waits for the work queued so far on `producer`; the host does not.
void WaitFor(const c10::Stream& waiter, const c10::Stream& producer);

// A new stream from LibTorch's pool for `device` (cuda_stream.cc).
c10::Stream NewNetStream(const torch::Device& device);

// While alive, the network's CUDA work goes to its own stream, ordered after
// what the caller had queued (where the inputs were made); the inputs' memory
// is not reused before that stream is done with it. With join, the caller's
// stream waits for the network's at the end, for results the caller uses
// (hand them out with handOut). Does nothing for a network without a stream.
class NetStreamScope {
 public:
  NetStreamScope(const Net& net, std::initializer_list<torch::Tensor> inputs, bool join = false);
  ~NetStreamScope();
  NetStreamScope(const NetStreamScope&) = delete;
  NetStreamScope& operator=(const NetStreamScope&) = delete;
  // `t`, made on the network's stream, is used on the caller's from now on.
  const torch::Tensor& handOut(const torch::Tensor& t) const;

 private:
  c10::optional<c10::Stream> caller_, own_;
  bool join_ = false;
  c10::OptionalStreamGuard guard_;
};

// Turns autocast on for this thread while alive (autocast state is thread
// local). cache=false during CUDA graph capture: cached casts of the weights
// would outlive the capture they were made in.
class AutocastScope {
 public:
  AutocastScope(const Net& net, const torch::Device& device, bool cache = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, prevEnabled_ = false, prevCache_ = true;
  torch::DeviceType type_ = torch::kCPU;
  torch::Dtype prevDtype_ = torch::kFloat32;
};

// relu(conv2d(x, w, b)) with a square stride and padding as one autograd
// node: on CUDA, cuDNN's fused kernel where it applies (conv_relu.cc). Inside
// an AutocastScope, `autocast` is the net's dtype (Net::autocast).
torch::Tensor ConvRelu(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride,
                       int64_t padding, const c10::optional<torch::Dtype>& autocast);

// The layer program on x, inside an AutocastScope for the net; logits in
// the autocast dtype when autocast is on.
torch::Tensor Forward(const Net& net, torch::Tensor x, bool train);

// One step (forward, loss, backward, SGD) op by op. With lrTensor defined (a
// 0-dim device tensor) the learning rate is read from it rather than from lr,
// so that a captured graph picks up each step's rate.
void EagerStep(Net& net, const torch::Tensor& x, const torch::Tensor& y, double lr,
               const torch::Tensor& lrTensor = torch::Tensor(), bool autocastCache = true);

// Allocates the metric sums on the device of `like` if they are not there yet.
void EnsureMetricSums(Net& net, const torch::Tensor& like);

// One training step as trainModel runs it: replays the CUDA graph when the
// net has one for these shapes, else captures it or runs eagerly.
void TrainStep(Net& net, const torch::Tensor& x, const torch::Tensor& y, double lr);

// Drops the captured graph and its memory (net_release).
void ResetCudaGraph(Net& net);

// The CUDA graph's status: "off", "warming up", "captured" or "failed: <why>".
std::string GraphStatus(const Net& net);

}  // namespace allcnn
