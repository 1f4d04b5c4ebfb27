// Shared plumbing of the binding tier: argument reading, the tensor handle,
// and the one place where C++ exceptions become JS Errors.
//
// Every exported function is declared with ALLCNN_OP, which wraps its body in
// `guarded`: c10::Error and std::exception turn into a JS Error whose message
// starts with the operation's name. No exception crosses into V8 otherwise.
#pragma once

#include <napi.h>
// Not <torch/torch.h>: it pulls in all of torch::nn, optim, data and
// serialization, and took 15.5 s of a translation unit's parsing against
// 7.4 s for these (g++ -fsyntax-only, Debian's 1.13, 2-core EPYC).
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <limits>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <vector>

// API differences between LibTorch 1.13 (Debian) and 2.x (PyTorch wheels).
#define ALLCNN_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||         \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace allcnn {

// Capturing a CUDA graph puts CUDA's default random generator in capture
// mode for the whole process: a random draw on another thread meanwhile
// (another network's dropout, the JS thread's shuffle or augmentation) fails
// with "Offset increment outside graph capture encountered unexpectedly".
// So a capture holds this lock exclusively (cuda_graph.cc), and whatever may
// draw random numbers holds it shared (RandomDraw): it waits out a capture.
inline std::shared_mutex& RandomLock() {
  static std::shared_mutex lock;
  return lock;
}
class RandomDraw {
 public:
  void release() { lock_.unlock(); }  // before a capture takes the lock itself

 private:
  std::shared_lock<std::shared_mutex> lock_{RandomLock()};
};
// A device-wide synchronisation on another thread would end a capture in
// progress with an error (and leave the generator in capture mode), so
// whatever synchronises the whole device waits out captures too.
void SynchronizeDevice();

// What the addon keeps per JS environment: the main thread and each worker
// thread load it apart, and a class made in one cannot be used in another.
struct AddonData {
  Napi::FunctionReference tensorCtor, netCtor, generatorCtor;
};
// Made by TensorHandle::Init, the first of the Init calls.
AddonData& Data(Napi::Env env);

// The C++ object that `v` wraps if it is an instance of the class `ctor`
// made, else nullptr. A forged object (Object.create(Class.prototype)) passes
// instanceof but wraps nothing: napi_unwrap says so.
template <typename T>
T* Unwrap(Napi::Env env, const Napi::Value& v, const Napi::FunctionReference& ctor) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor.Value())) return nullptr;
  void* wrapped = nullptr;
  if (napi_unwrap(env, v, &wrapped) != napi_ok || wrapped == nullptr) return nullptr;
  return static_cast<T*>(static_cast<Napi::ObjectWrap<T>*>(wrapped));
}

// A JS object owning one torch::Tensor. dispose() frees it at once; the
// destructor (run by the GC) is only a safety net.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, torch::Tensor tensor);
  static bool IsHandle(Napi::Env env, const Napi::Value& value);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  bool disposed() const { return !tensor_.defined(); }
  const torch::Tensor& tensor() const { return tensor_; }
  void Release(Napi::Env env);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  torch::Tensor tensor_;
  int64_t bytes_ = 0;
  std::string device_;
  napi_env env_ = nullptr;
};

// Live handle counts and bytes, per device ("cpu", "cuda:0", ...).
Napi::Object MemoryStats(Napi::Env env);

// Reads and checks the arguments of one call. Errors name the operation and
// the argument position; C++ never sees an unchecked JS value.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  Napi::Env env() const { return info_.Env(); }
  size_t size() const { return info_.Length(); }
  bool has(size_t i) const {
    return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull();
  }
  Napi::Value raw(size_t i) const { return info_[i]; }

  torch::Tensor tensor(size_t i) const;
  c10::optional<torch::Tensor> optTensor(size_t i) const;
  std::vector<torch::Tensor> tensors(size_t i) const;
  TensorHandle* handle(size_t i) const;
  double number(size_t i) const;
  // A tensor's value (a fill, an operand): NaN is one, as in PyTorch; number() refuses it (rates, sizes).
  double value(size_t i) const;
  int64_t int64(size_t i) const;
  bool boolean(size_t i) const;
  std::string string(size_t i) const;
  std::vector<int64_t> ints(size_t i) const;
  torch::Dtype dtype(size_t i) const;
  torch::Device device(size_t i) const;
  bool isTensor(size_t i) const;
  // A Generator from JS (generator.cc), or nullopt for undefined or null:
  // LibTorch's global generator.
  c10::optional<at::Generator> generator(size_t i) const;

  [[noreturn]] void fail(size_t i, const std::string& expected) const;

  Napi::Object wrap(const torch::Tensor& t) const { return TensorHandle::Wrap(env(), t); }
  Napi::Array wrapAll(const std::vector<torch::Tensor>& ts) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
};

// The generator a JS Generator wraps (generator.cc); false for anything else.
bool UnwrapGenerator(Napi::Env env, const Napi::Value& v, at::Generator* out);

torch::Dtype ParseDtype(const std::string& name);
std::string DtypeName(torch::Dtype dtype);
std::string DescribeValue(const Napi::Value& v);

template <typename F>
Napi::Value Guarded(const Napi::CallbackInfo& info, const char* op, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": unknown native error");
  }
}

#define ALLCNN_OP(name)                                                  \
  static Napi::Value name##_body(const ::allcnn::Args& a);               \
  static Napi::Value name(const Napi::CallbackInfo& info) {              \
    return ::allcnn::Guarded(info, #name, [&]() -> Napi::Value {         \
      ::allcnn::Args a(info, #name);                                     \
      return name##_body(a);                                             \
    });                                                                  \
  }                                                                      \
  static Napi::Value name##_body(const ::allcnn::Args& a)

#define ALLCNN_EXPORT(exports, name) \
  (exports).Set(#name, Napi::Function::New((exports).Env(), name, #name))

// Dropout as torch::dropout computes it, with a faster mask on the CPU
// (nn_ops.cc): the native step and nn_dropout share it, so that both
// engines draw the same masks. Draws from `generator`, or from LibTorch's
// global generator without one.
torch::Tensor Dropout(const torch::Tensor& x, double p, bool train,
                      const c10::optional<at::Generator>& generator = c10::nullopt);

// The check PyTorch's Python F.batch_norm makes and torch::batch_norm does
// not: in training, a channel of one value (a batch of 1 after gap or
// flatten) has no variance, and the running variance would turn to NaN
// without a word. nn_batch_norm and the native step both make it; it reads
// only the shape, so it costs nothing and is safe inside a CUDA graph capture.
inline void CheckBatchStatistics(const torch::Tensor& x, bool training) {
  if (training && x.dim() >= 2 && x.size(1) > 0 && x.numel() == x.size(1)) {
    throw std::invalid_argument("batch norm in training needs more than one value per channel, but its input is [" +
                                std::to_string(x.size(0)) + ", " + std::to_string(x.size(1)) +
                                "]: a batch of 1 after gap or flatten (train with batches of 2 or more)");
  }
}

// cross_entropy's ignore_index: no label is ignored. LibTorch's default, -100
// (PyTorch's), left a -100 label out of the loss while evaluate still counted
// its image; with this one every negative label is out of bounds, as -1 is.
constexpr int64_t kNoIgnoredLabel = std::numeric_limits<int64_t>::min();

// On CUDA an index out of range is no error but a device-side assert, after
// which every CUDA call of the process fails (LibTorch checks CPU indices
// itself). So the ops that take indices from JS (cross_entropy's labels,
// gather, index_select) check them here, for one host sync a call on CUDA;
// on every device, so that the CPU tests see the error CUDA gives. The
// native step does not: its labels come from a data set checked on loading;
// nor do the batches and translations the library gathers each step.
inline void CheckIndexRange(const torch::Tensor& index, int64_t size, const std::string& what) {
  if (index.numel() == 0 || !c10::isIntegralType(index.scalar_type(), /*includeBool=*/false)) return;
  torch::Tensor range = torch::stack({index.min(), index.max()}).cpu();
  int64_t lo = range[0].item<int64_t>(), hi = range[1].item<int64_t>();
  if (lo < 0 || hi >= size) {
    throw std::out_of_range(what + " runs from " + std::to_string(lo) + " to " + std::to_string(hi) +
                            ", outside [0, " + std::to_string(size) + ")");
  }
}

// The SGD rule (PyTorch's, coupled L2), for a parameter p with a gradient g:
//   d = g + weightDecay p;  buf = momentum buf + d;  returns buf, or d + momentum buf with Nesterov,
// which the caller subtracts times the learning rate. Updates buf in place.
// optim_sgd_step (nn_ops.cc) and the native step (step.cc) share it.
torch::Tensor SgdDirection(const torch::Tensor& p, torch::Tensor& buf, double momentum, double weightDecay, bool nesterov);

// Registration, one per translation unit.
void InitTensorOps(Napi::Env env, Napi::Object exports);
void InitNnOps(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitBackend(Napi::Env env, Napi::Object exports);
void InitProfiler(Napi::Env env, Napi::Object exports);
void InitGenerator(Napi::Env env, Napi::Object exports);

}  // namespace allcnn
