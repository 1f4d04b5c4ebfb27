// The training step as one CUDA graph. After a few eager warm-up steps, the
// whole step (forward, loss, backward, SGD, metrics) is captured once against
// static input tensors; each later step copies its batch and learning rate
// into those tensors and replays the graph: one launch instead of a few
// hundred. Steps of another shape (an epoch's last, partial batch) run
// eagerly. This follows PyTorch's recipe for whole-network capture
// (docs: "CUDA Graphs", whole-network capture).
//
// If capture fails, the network says so in its status ("failed: <why>",
// read by net_take_metrics) and goes on eagerly: slower, never wrong.
//
// Steps arrive on whichever libuv worker thread is free, and some of what a
// capture needs ready is per thread: cuDNN's autotuned plans (PyTorch keeps
// its cuDNN benchmark cache thread_local) and the cuDNN and cuBLAS handles.
// A capture on a thread that has not run the step yet would autotune inside
// the capture, which invalidates it; so capture waits for a step on a thread
// that has.
#include "net.h"

#ifdef ALLCNN_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <mutex>
#include <set>
#include <thread>
#endif

namespace allcnn {

#ifdef ALLCNN_WITH_CUDA

struct CudaGraphStep {
  explicit CudaGraphStep(c10::cuda::CUDAStream s) : stream(s) {}
  at::cuda::CUDAGraph graph;
  c10::cuda::CUDAStream stream;  // warm-up and capture run here: capture needs a non-default stream
  torch::Tensor x, y, lr;        // static inputs: the graph reads these addresses
  int warmups = 0;
  std::set<std::thread::id> warmThreads;  // threads that have run the step eagerly at these shapes
  bool captured = false;
  std::string failure;  // why capture failed; empty while it has not
};

namespace {

// Eager steps before capture, so that cuDNN's benchmark mode has chosen its
// algorithms and lazily made state (cuBLAS workspaces, autograd's streams)
// exists before the capture rather than inside it.
constexpr int kWarmupSteps = 3;

bool SameShapes(const CudaGraphStep& g, const torch::Tensor& x, const torch::Tensor& y) {
  return x.sizes() == g.x.sizes() && y.sizes() == g.y.sizes() && x.scalar_type() == g.x.scalar_type() &&
         y.scalar_type() == g.y.scalar_type() && x.device() == g.x.device();
}

// Records the step into g.graph, then replays it once: capture only records.
void Capture(Net& net, CudaGraphStep& g, const torch::Tensor& x, const torch::Tensor& y, double lr) {
  // One capture at a time, and no random draws elsewhere meanwhile (RandomLock).
  std::unique_lock<std::shared_mutex> exclusive(RandomLock());
  g.x.copy_(x);
  g.y.copy_(y);
  g.lr.fill_(lr);
  const int64_t seenBefore = net.seen;
  torch::cuda::synchronize();  // as torch.cuda.graph does: nothing in flight when capture starts
  try {
#if ALLCNN_TORCH_AT_LEAST(2, 2)
    // Thread-local: other threads (other networks, the JS thread) may keep
    // using CUDA while this one captures.
    g.graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
#else
    g.graph.capture_begin();
#endif
    try {
      EagerStep(net, g.x, g.y, lr, g.lr, /*autocastCache=*/false);
    } catch (...) {
      try {
        g.graph.capture_end();
      } catch (...) {
      }
      throw;
    }
    g.graph.capture_end();
  } catch (const c10::Error& e) {
    g.failure = std::string("capture: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    g.failure = std::string("capture: ") + e.what();
  }
  if (!g.failure.empty()) {
    net.seen = seenBefore;
    try {
      EagerStep(net, x, y, lr);  // the step still has to happen
    } catch (const c10::Error& e) {
      // A failed capture can leave LibTorch's CUDA state unusable (its random
      // generator stays in capture mode): say what failed first.
      throw std::runtime_error("CUDA graph " + g.failure + "; the eager step after it failed too (" +
                               e.what_without_backtrace() + "); train without the CUDA graph option");
    }
    return;
  }
  g.captured = true;
  g.graph.replay();
}

}  // namespace

void CudaGraphStepDeleter::operator()(CudaGraphStep* step) const {
  try {
    if (step->captured) SynchronizeDevice();  // a replay may still read the static tensors
  } catch (...) {  // runs from destructors: never throw (at exit CUDA may be gone)
  }
  delete step;
}

void TrainStep(Net& net, const torch::Tensor& x, const torch::Tensor& y, double lr) {
  // Dropout draws random numbers, and a replay advances the generator's
  // offset; only a capture gives this up, for the exclusive lock.
  RandomDraw draw;
  if (!net.cudaGraph || !x.is_cuda()) return EagerStep(net, x, y, lr);
  const c10::DeviceIndex device = x.device().index();
  if (!net.graph) {
    net.graph.reset(new CudaGraphStep(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device)));
    CudaGraphStep& g = *net.graph;
    // Static inputs take the first batch's shape: the full batches.
    g.x = torch::empty_like(x, net.channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
    g.y = torch::empty_like(y);
    g.lr = torch::zeros({}, x.options().dtype(torch::kFloat32));
  }
  CudaGraphStep& g = *net.graph;
  if (!g.failure.empty() || !SameShapes(g, x, y)) return EagerStep(net, x, y, lr);
  if (g.captured) {
    // Same stream as the batch was made on, so no waiting: just copy and launch.
    g.x.copy_(x);
    g.y.copy_(y);
    g.lr.fill_(lr);
    g.graph.replay();
    net.seen += y.size(0);
    return;
  }
  // Warm-up and capture run on the side stream, ordered after the work that
  // made the batch and before anything that follows on the ambient stream.
  const c10::cuda::CUDAStream ambient = c10::cuda::getCurrentCUDAStream(device);
  EnsureMetricSums(net, y);  // outside the capture: the graph adds into them
  WaitFor(g.stream, ambient);
  {
    c10::cuda::CUDAStreamGuard onSide(g.stream);
    const std::thread::id self = std::this_thread::get_id();
    if (g.warmups < kWarmupSteps || !g.warmThreads.count(self)) {
      EagerStep(net, x, y, lr);
      ++g.warmups;
      g.warmThreads.insert(self);
    } else {
      draw.release();
      Capture(net, g, x, y, lr);
    }
  }
  WaitFor(ambient, g.stream);
}

void ResetCudaGraph(Net& net) {
  if (!net.graph) return;
  // No replay may still be running when the graph and its memory pool go.
  SynchronizeDevice();
  for (auto& p : net.params) {
    if (p.grad().defined()) p.mutable_grad().reset();  // the graph's pool holds these
  }
  net.graph.reset();
}

std::string GraphStatus(const Net& net) {
  if (!net.cudaGraph) return "off";
  const CudaGraphStep* g = net.graph.get();
  if (g && g->captured) return "captured";
  if (g && !g->failure.empty()) return "failed: " + g->failure;
  return "warming up";
}

#else  // a build without CUDA: net_create refuses cudaGraph, so steps are eager

struct CudaGraphStep {};

void CudaGraphStepDeleter::operator()(CudaGraphStep* step) const { delete step; }

void TrainStep(Net& net, const torch::Tensor& x, const torch::Tensor& y, double lr) { EagerStep(net, x, y, lr); }

void ResetCudaGraph(Net& net) { net.graph.reset(); }

std::string GraphStatus(const Net&) { return "off"; }

#endif

}  // namespace allcnn
