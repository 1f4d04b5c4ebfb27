// net_*: a whole network run on the native side (net.h). One call does a
// full training step (forward, loss, backward, SGD), on a libuv worker thread
// so the event loop stays free; training metrics accumulate on the device and
// are read back only when asked. On CUDA a step is queued, not waited for:
// the host runs ahead of the GPU until net_take_metrics reads the sums.
#include "net.h"

#include <torch/nn/functional/loss.h>

#include <cmath>
#include <chrono>

namespace allcnn {
namespace {

class NetHandle : public Napi::ObjectWrap<NetHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NativeNet", {});
    Data(env).netCtor = Napi::Persistent(f);
    exports.Set("NativeNet", f);
  }
  explicit NetHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetHandle>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "NativeNet cannot be constructed directly; use net_create");
    }
    net.reset(info[0].As<Napi::External<Net>>().Data());
  }
  std::unique_ptr<Net> net;
};

Net& GetNet(const Args& a, size_t i) {
  auto* handle = Unwrap<NetHandle>(a.env(), a.raw(i), Data(a.env()).netCtor);
  if (!handle || !handle->net) a.fail(i, "a native network (from net_create)");
  return *handle->net;
}

int64_t Field(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}
double FieldD(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

// net_create(layers[], params[], momentumBuffers[], buffers[], options)
// layers: [{kind, weight?, bias?, runningMean?, runningVar?, kernel?, stride?, padding?, p?, momentum?, eps?}]
// options: {momentum, weightDecay, nesterov, labelSmoothing, channelsLast, autocast: dtype|null,
//           lrScales?: number[] (one per parameter, default 1: fine-tuning trains a body slower than its head),
//           cudaGraph?: boolean (capture the step as a CUDA graph; CUDA networks only),
//           cudaStream?: boolean (queue the network's work on a stream of its own; CUDA networks only),
//           foreachSgd?: boolean (the update as _foreach ops: fewer, larger kernels; see step.cc),
//           fuseConvRelu?: boolean (a convolution and the ReLU after it as one node; see conv_relu.cc),
//           generator?: Generator (dropout draws from it rather than the global generator; not with cudaGraph)}
ALLCNN_OP(net_create) {
  auto net = std::make_unique<Net>();
  net->params = a.tensors(1);
  net->momentumBuffers = a.tensors(2);
  net->buffers = a.tensors(3);
  if (!net->momentumBuffers.empty() && net->params.size() != net->momentumBuffers.size()) {
    a.fail(2, "one momentum buffer per parameter (or none, for a network that only evaluates)");
  }
  if (!a.raw(0).IsArray()) a.fail(0, "an array of layers");
  Napi::Array layers = a.raw(0).As<Napi::Array>();
  auto checkIndex = [&](int64_t i, size_t n, uint32_t k, const char* what) {
    if (i < -1 || i >= static_cast<int64_t>(n)) {
      throw std::invalid_argument("layer " + std::to_string(k) + ": " + what + " index " + std::to_string(i) +
                                  " out of range");
    }
  };
  for (uint32_t k = 0; k < layers.Length(); ++k) {
    Napi::Value v = layers[k];
    if (!v.IsObject()) a.fail(0, "an array of layer objects");
    Napi::Object o = v.As<Napi::Object>();
    std::string kind = o.Get("kind").IsString() ? o.Get("kind").As<Napi::String>().Utf8Value() : "";
    Layer l;
    if (kind == "conv") l.kind = Kind::Conv;
    else if (kind == "relu") l.kind = Kind::Relu;
    else if (kind == "maxpool") l.kind = Kind::MaxPool;
    else if (kind == "avgpool") l.kind = Kind::AvgPool;
    else if (kind == "dropout") l.kind = Kind::Dropout;
    else if (kind == "gap") l.kind = Kind::Gap;
    else if (kind == "batchnorm") l.kind = Kind::BatchNorm;
    else if (kind == "linear") l.kind = Kind::Linear;
    else if (kind == "flatten") l.kind = Kind::Flatten;
    else throw std::invalid_argument("layer " + std::to_string(k) + ": unknown kind \"" + kind + "\"");
    l.weight = Field(o, "weight", -1);
    l.bias = Field(o, "bias", -1);
    l.runningMean = Field(o, "runningMean", -1);
    l.runningVar = Field(o, "runningVar", -1);
    checkIndex(l.weight, net->params.size(), k, "weight");
    checkIndex(l.bias, net->params.size(), k, "bias");
    checkIndex(l.runningMean, net->buffers.size(), k, "runningMean");
    checkIndex(l.runningVar, net->buffers.size(), k, "runningVar");
    if ((l.kind == Kind::Conv || l.kind == Kind::Linear) && l.weight < 0) {
      throw std::invalid_argument("layer " + std::to_string(k) + ": " + kind + " needs a weight");
    }
    l.kernel = Field(o, "kernel", 1);
    l.stride = Field(o, "stride", 1);
    l.padding = Field(o, "padding", 0);
    l.p = FieldD(o, "p", 0);
    l.momentum = FieldD(o, "momentum", 0.1);
    l.eps = FieldD(o, "eps", 1e-5);
    net->layers.push_back(l);
  }
  if (a.has(4)) {
    if (!a.raw(4).IsObject()) a.fail(4, "an options object");
    Napi::Object o = a.raw(4).As<Napi::Object>();
    net->momentum = FieldD(o, "momentum", 0.9);
    net->weightDecay = FieldD(o, "weightDecay", 0);
    net->labelSmoothing = FieldD(o, "labelSmoothing", 0);
    net->nesterov = o.Get("nesterov").ToBoolean().Value();
    net->foreachSgd = o.Get("foreachSgd").ToBoolean().Value();
    net->fuseConvRelu = o.Get("fuseConvRelu").ToBoolean().Value();
    net->channelsLast = o.Get("channelsLast").ToBoolean().Value();
    net->cudaGraph = o.Get("cudaGraph").ToBoolean().Value();
    if (o.Get("cudaStream").ToBoolean().Value()) {
      if (net->params.empty() || !net->params[0].is_cuda()) {
        a.fail(4, "options without cudaStream, or a network on a CUDA device: a stream of its own is a CUDA stream");
      }
      net->stream = NewNetStream(net->params[0].device());
    }
    Napi::Value generator = o.Get("generator");
    if (!generator.IsUndefined() && !generator.IsNull()) {
      at::Generator g;
      if (!UnwrapGenerator(a.env(), generator, &g)) a.fail(4, "options whose generator is a Generator");
      if (!net->params.empty() && g.device().type() != net->params[0].device().type()) {
        a.fail(4, "options whose generator is on the network's device (" + net->params[0].device().str() + ")");
      }
      net->generator = g;
    }
    if (o.Get("autocast").IsString()) net->autocast = ParseDtype(o.Get("autocast").As<Napi::String>().Utf8Value());
    if (o.Get("lrScales").IsArray()) {
      Napi::Array scales = o.Get("lrScales").As<Napi::Array>();
      if (scales.Length() != net->params.size()) a.fail(4, "options whose lrScales has one number per parameter");
      for (uint32_t k = 0; k < scales.Length(); ++k) {
        Napi::Value v = scales[k];
        if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) a.fail(4, "options whose lrScales are finite numbers");
        net->lrScales.push_back(v.As<Napi::Number>().DoubleValue());
      }
    }
  }
  if (net->lrScales.empty()) net->lrScales.assign(net->params.size(), 1.0);
  if (net->cudaGraph) {
#ifndef ALLCNN_WITH_CUDA
    a.fail(4, "options without cudaGraph: this addon was built without CUDA (see `allcnn doctor`)");
#endif
    for (const auto& p : net->params) {
      if (!p.is_cuda()) a.fail(4, "options without cudaGraph, or a network on a CUDA device: CUDA graphs need CUDA tensors");
    }
    // A capture registers only CUDA's default generator with the graph.
    if (net->generator) a.fail(4, "options with cudaGraph or a generator, not both: a captured step draws from the global generator");
  }
  return Data(a.env()).netCtor.New({Napi::External<Net>::New(a.env(), net.release())});
}

// net_forward(net, x, training): logits (autograd follows the usual grad mode).
ALLCNN_OP(net_forward) {
  Net& net = GetNet(a, 0);
  if (net.busy) throw std::runtime_error("a step is running on this network; await it first");
  torch::Tensor x = a.tensor(1);
  NetStreamScope onStream(net, {x}, /*join=*/true);
  AutocastScope autocast(net, x.device());
  RandomDraw draw;  // dropout, when training
  return a.wrap(onStream.handOut(Forward(net, x, a.boolean(2)).to(torch::kFloat32)));
}

// The asynchronous step: Execute runs on a libuv worker and touches no JS value.
class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, Napi::Object owner, Net& net, torch::Tensor x, torch::Tensor y, double lr, int64_t repeat)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(Napi::Persistent(owner)), net_(net),
        x_(std::move(x)), y_(std::move(y)), lr_(lr), repeat_(repeat) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      auto start = std::chrono::steady_clock::now();
      NetStreamScope onStream(net_, {x_, y_});
      for (int64_t i = 0; i < repeat_; ++i) TrainStep(net_, x_, y_, lr_);
      // The benchmark's loop is timed to the end of its GPU work; a single
      // step is only queued (its seconds are the time to queue it).
      if (repeat_ > 1 && x_.is_cuda()) SynchronizeDevice();
      seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } catch (const c10::Error& e) {
      SetError(std::string("net_train_step: ") + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(std::string("net_train_step: ") + e.what());
    }
  }
  void OnOK() override {
    net_.busy = false;
    deferred_.Resolve(Napi::Number::New(Env(), seconds_));
  }
  void OnError(const Napi::Error& e) override {
    net_.busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference owner_;  // keeps the network alive while the step runs
  Net& net_;
  torch::Tensor x_, y_;
  double lr_;
  int64_t repeat_;
  double seconds_ = 0;
};

// net_train_step(net, x, y, lr, repeat = 1): Promise of the seconds taken
// (on CUDA with repeat = 1: the seconds to queue the step).
// repeat > 1 runs the same batch again and again inside C++: the benchmark's
// "step written entirely in C++".
ALLCNN_OP(net_train_step) {
  Net& net = GetNet(a, 0);
  torch::Tensor x = a.tensor(1), y = a.tensor(2);
  double lr = a.number(3);
  int64_t repeat = a.has(4) ? a.int64(4) : 1;
  if (repeat < 1) a.fail(4, "a positive integer");
  if (x.dim() != 4 || y.dim() != 1 || x.size(0) != y.size(0)) {
    throw std::invalid_argument("expected x [N,C,H,W] and y [N] with the same N");
  }
  if (net.momentumBuffers.empty()) throw std::runtime_error("this network was created without an optimiser and can only evaluate");
  if (net.busy.exchange(true)) {
    throw std::runtime_error("a step is already running on this network; await it before starting another");
  }
  auto* w = new StepWorker(a.env(), a.raw(0).As<Napi::Object>(), net, x, y, lr, repeat);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// Synchronous step, for benchmarks of the call overhead.
ALLCNN_OP(net_train_step_sync) {
  Net& net = GetNet(a, 0);
  if (net.busy) throw std::runtime_error("a step is already running on this network");
  if (net.momentumBuffers.empty()) throw std::runtime_error("this network was created without an optimiser and can only evaluate");
  torch::Tensor x = a.tensor(1), y = a.tensor(2);
  NetStreamScope onStream(net, {x, y});
  TrainStep(net, x, y, a.number(3));
  return a.env().Undefined();
}

// net_take_metrics(net): {loss: mean training loss, correct, seen, graph} since
// the last call, then zeroes the sums. The only place a host sync happens.
// graph: the CUDA graph's status ("off", "warming up", "captured", "failed: ...").
ALLCNN_OP(net_take_metrics) {
  Net& net = GetNet(a, 0);
  if (net.busy) throw std::runtime_error("a step is running on this network; await it before reading metrics");
  Napi::Object o = Napi::Object::New(a.env());
  NetStreamScope onStream(net, {});  // the sums are written on the network's stream: read them there
  double loss = net.seen ? net.lossSum.item<double>() / static_cast<double>(net.seen) : NAN;
  double correct = net.seen ? static_cast<double>(net.correctSum.item<int64_t>()) : 0;
  o.Set("loss", loss);
  o.Set("correct", correct);
  o.Set("seen", static_cast<double>(net.seen));
  o.Set("graph", GraphStatus(net));
  if (net.seen) {
    net.lossSum.zero_();  // in place: a captured graph adds into these tensors
    net.correctSum.zero_();
  }
  net.seen = 0;
  return o;
}

// Evaluation over a whole tensor data set, batch by batch, off the JS thread.
class EvalWorker : public Napi::AsyncWorker {
 public:
  EvalWorker(Napi::Env env, Napi::Object owner, Net& net, torch::Tensor x, torch::Tensor y, int64_t batch)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(Napi::Persistent(owner)), net_(net),
        x_(std::move(x)), y_(std::move(y)), batch_(batch) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      // Not during another network's capture: cuDNN's benchmark mode times a
      // new shape's algorithms with device-wide synchronisations (common.h).
      RandomDraw wait;
      torch::NoGradGuard noGrad;
      NetStreamScope onStream(net_, {x_, y_});
      int64_t n = x_.size(0);
      torch::Tensor lossSum = torch::zeros({}, x_.options().dtype(torch::kFloat64));
      torch::Tensor correct = torch::zeros({}, x_.options().dtype(torch::kInt64));
      for (int64_t s = 0; s < n; s += batch_) {
        int64_t len = std::min(batch_, n - s);
        torch::Tensor xb = x_.narrow(0, s, len), yb = y_.narrow(0, s, len);
        torch::Tensor logits;
        {
          AutocastScope autocast(net_, xb.device());
          logits = Forward(net_, xb, false).to(torch::kFloat32);
        }
        lossSum.add_(torch::nn::functional::cross_entropy(logits, yb,
                                                          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(kNoIgnoredLabel)));
        correct.add_(logits.argmax(1).eq(yb).sum());
      }
      loss_ = n ? lossSum.item<double>() / static_cast<double>(n) : NAN;
      correct_ = static_cast<double>(correct.item<int64_t>());
      n_ = static_cast<double>(n);
    } catch (const c10::Error& e) {
      SetError(std::string("net_evaluate: ") + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(std::string("net_evaluate: ") + e.what());
    }
  }
  void OnOK() override {
    net_.busy = false;
    Napi::Object o = Napi::Object::New(Env());
    o.Set("loss", loss_);
    o.Set("correct", correct_);
    o.Set("seen", n_);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override {
    net_.busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference owner_;  // keeps the network alive while evaluating
  Net& net_;
  torch::Tensor x_, y_;
  int64_t batch_;
  double loss_ = 0, correct_ = 0, n_ = 0;
};

// net_evaluate(net, x, y, batchSize): Promise of {loss, correct, seen}.
ALLCNN_OP(net_evaluate) {
  Net& net = GetNet(a, 0);
  torch::Tensor x = a.tensor(1), y = a.tensor(2);
  int64_t batch = a.int64(3);
  if (batch < 1) a.fail(3, "a positive batch size");
  if (x.dim() != 4 || y.dim() != 1 || x.size(0) != y.size(0)) {
    throw std::invalid_argument("expected x [N,C,H,W] and y [N] with the same N");
  }
  if (net.busy.exchange(true)) {
    throw std::runtime_error("a step is already running on this network; await it before evaluating");
  }
  auto* w = new EvalWorker(a.env(), a.raw(0).As<Napi::Object>(), net, x, y, batch);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// net_release(net): drops the network's references to its tensors now, so
// their memory is freed with the TypeScript handles rather than at GC time.
ALLCNN_OP(net_release) {
  Net& net = GetNet(a, 0);
  if (net.busy) throw std::runtime_error("a step is running on this network; await it before releasing");
  ResetCudaGraph(net);
  if (net.stream) net.stream->synchronize();  // TypeScript may free the tensors next
  net.cudaGraph = false;
  net.layers.clear();
  net.params.clear();
  net.momentumBuffers.clear();
  net.buffers.clear();
  net.lossSum.reset();
  net.correctSum.reset();
  net.seen = 0;
  return a.env().Undefined();
}

}  // namespace

void InitNet(Napi::Env env, Napi::Object e) {
  NetHandle::Init(env, e);
  ALLCNN_EXPORT(e, net_create); ALLCNN_EXPORT(e, net_forward); ALLCNN_EXPORT(e, net_train_step);
  ALLCNN_EXPORT(e, net_train_step_sync); ALLCNN_EXPORT(e, net_take_metrics); ALLCNN_EXPORT(e, net_evaluate);
  ALLCNN_EXPORT(e, net_release);
}

}  // namespace allcnn
