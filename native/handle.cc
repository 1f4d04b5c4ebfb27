// The tensor handle, argument checking and memory bookkeeping.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <unordered_map>

namespace allcnn {
namespace {

struct DeviceCount {
  int64_t tensors = 0;
  int64_t bytes = 0;
};
// Counts for the whole process, which worker threads share: under LiveLock.
std::map<std::string, DeviceCount>& Live() {
  static std::map<std::string, DeviceCount> live;
  return live;
}
std::mutex& LiveLock() {
  static std::mutex lock;
  return lock;
}

// The bytes a handle keeps in use: its size, but no more than its storage
// holds, so that a view expanded to 1e12 elements (stride 0) is not counted
// (nor reported to V8) as terabytes. Views of one storage are each counted.
int64_t TensorBytes(const torch::Tensor& t) {
  int64_t size = static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
  if (!t.has_storage()) return size;
  return std::min(size, static_cast<int64_t>(t.storage().nbytes()));
}

}  // namespace

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void TensorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeTensor",
                                    {InstanceMethod("dispose", &TensorHandle::Dispose),
                                     InstanceMethod("isDisposed", &TensorHandle::IsDisposed)});
  env.SetInstanceData(new AddonData{});
  Data(env).tensorCtor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
}

Napi::Object TensorHandle::Wrap(Napi::Env env, torch::Tensor tensor) {
  if (!tensor.defined()) throw std::runtime_error("internal: wrapping an undefined tensor");
  return Data(env).tensorCtor.New({Napi::External<torch::Tensor>::New(env, &tensor)});
}

bool TensorHandle::IsHandle(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().InstanceOf(Data(env).tensorCtor.Value());
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TensorHandle>(info), env_(info.Env()) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(),
                               "NativeTensor cannot be constructed directly; use allcnn's tensor "
                               "creation functions (zeros, fromArray, ...)");
  }
  tensor_ = std::move(*info[0].As<Napi::External<torch::Tensor>>().Data());
  bytes_ = TensorBytes(tensor_);
  device_ = tensor_.device().str();
  {
    std::lock_guard<std::mutex> lock(LiveLock());
    auto& c = Live()[device_];
    c.tensors += 1;
    c.bytes += bytes_;
  }
  // Tell V8 roughly how much memory this small object holds, so that the GC
  // (the safety net) runs before host memory fills. GPU bytes are not host
  // memory and are left out.
  if (tensor_.device().is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(env_, bytes_);
}

void TensorHandle::Release(Napi::Env env) {
  if (!tensor_.defined()) return;
  {
    std::lock_guard<std::mutex> lock(LiveLock());
    auto& c = Live()[device_];
    c.tensors -= 1;
    c.bytes -= bytes_;
  }
  // The C call, whose failure is ignored: this also runs from the destructor
  // while a worker thread's environment is torn down, where the wrapper's
  // fatal error would end the whole process for a hint to the GC.
  int64_t ignored = 0;
  if (tensor_.device().is_cpu()) napi_adjust_external_memory(env, -bytes_, &ignored);
  tensor_.reset();
}

TensorHandle::~TensorHandle() { Release(Napi::Env(env_)); }

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorHandle::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

Napi::Object MemoryStats(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  std::lock_guard<std::mutex> lock(LiveLock());
  for (const auto& [device, c] : Live()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tensors", Napi::Number::New(env, static_cast<double>(c.tensors)));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(c.bytes)));
    out.Set(device, o);
  }
  return out;
}

// ---- Args ------------------------------------------------------------------

std::string DescribeValue(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "boolean true" : "boolean false";
  if (v.IsNumber()) return "number " + v.ToString().Utf8Value();
  if (v.IsString()) return "string \"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsArray()) return "array";
  if (v.IsFunction()) return "function";
  return "object";
}

void Args::fail(size_t i, const std::string& expected) const {
  std::string got = i < info_.Length() ? DescribeValue(info_[i]) : "nothing";
  throw Napi::TypeError::New(env(), std::string(op_) + ": argument " + std::to_string(i) +
                                        " must be " + expected + ", received " + got);
}

TensorHandle* Args::handle(size_t i) const {
  TensorHandle* h = i < info_.Length() ? Unwrap<TensorHandle>(env(), info_[i], Data(env()).tensorCtor) : nullptr;
  if (!h) fail(i, "a Tensor");
  if (h->disposed()) {
    throw Napi::Error::New(env(), std::string(op_) + ": argument " + std::to_string(i) +
                                      " is a disposed Tensor (it was freed by dispose() or a "
                                      "scope); keep() it or clone it before the scope ends");
  }
  return h;
}

bool Args::isTensor(size_t i) const {
  return i < info_.Length() && TensorHandle::IsHandle(env(), info_[i]);
}

torch::Tensor Args::tensor(size_t i) const { return handle(i)->tensor(); }

c10::optional<torch::Tensor> Args::optTensor(size_t i) const {
  if (!has(i)) return c10::nullopt;
  return tensor(i);
}

std::vector<torch::Tensor> Args::tensors(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "an array of Tensors");
  Napi::Array arr = info_[i].As<Napi::Array>();
  std::vector<torch::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    auto* h = Unwrap<TensorHandle>(env(), arr[k], Data(env()).tensorCtor);
    if (!h) fail(i, "an array of Tensors (element " + std::to_string(k) + " is not)");
    if (h->disposed()) fail(i, "an array of live Tensors (element " + std::to_string(k) + " is disposed)");
    out.push_back(h->tensor());
  }
  return out;
}

double Args::number(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) fail(i, "a number");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  if (std::isnan(v)) fail(i, "a number (not NaN)");
  return v;
}

double Args::value(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) fail(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

int64_t Args::int64(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) fail(i, "an integer");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  // 2^53: beyond it doubles are not integers we can trust.
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9007199254740992.0) {
    fail(i, "a finite integer");
  }
  return static_cast<int64_t>(v);
}

bool Args::boolean(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsBoolean()) fail(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsString()) fail(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "an array of integers");
  Napi::Array arr = info_[i].As<Napi::Array>();
  if (arr.Length() > 64) fail(i, "an array of at most 64 integers");
  std::vector<int64_t> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr[k];
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740992.0) {
      fail(i, "an array of integers (element " + std::to_string(k) + " is " + DescribeValue(v) + ")");
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

torch::Dtype ParseDtype(const std::string& name) {
  static const std::unordered_map<std::string, torch::Dtype> kDtypes = {
      {"float32", torch::kFloat32}, {"float16", torch::kFloat16}, {"bfloat16", torch::kBFloat16},
      {"float64", torch::kFloat64}, {"int64", torch::kInt64},     {"int32", torch::kInt32},
      {"uint8", torch::kUInt8},     {"bool", torch::kBool}};
  auto it = kDtypes.find(name);
  if (it == kDtypes.end()) {
    throw std::invalid_argument("unknown dtype \"" + name +
                                "\" (expected float32, float16, bfloat16, float64, int64, int32, "
                                "uint8 or bool)");
  }
  return it->second;
}

std::string DtypeName(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat64: return "float64";
    case torch::kInt64: return "int64";
    case torch::kInt32: return "int32";
    case torch::kUInt8: return "uint8";
    case torch::kBool: return "bool";
    default: return std::string(c10::toString(dtype));
  }
}

torch::Dtype Args::dtype(size_t i) const { return ParseDtype(string(i)); }

torch::Device Args::device(size_t i) const {
  std::string name = string(i);
  torch::Device d(name);  // c10::Error on a malformed name
  if (d.is_cuda() && !torch::cuda::is_available()) {
    throw std::runtime_error("device \"" + name +
                             "\" requested but CUDA is not available in this build of LibTorch "
                             "(run `allcnn doctor`; build against a CUDA LibTorch with "
                             "LIBTORCH_USE_PYTORCH=1)");
  }
  if (d.is_cuda() && d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count())) {
    throw std::runtime_error("device \"" + name + "\" does not exist (" +
                             std::to_string(torch::cuda::device_count()) + " CUDA devices)");
  }
  if (!d.is_cpu() && !d.is_cuda()) throw std::runtime_error("device \"" + name + "\" is not supported (use cpu or cuda[:N])");
  return d;
}

Napi::Array Args::wrapAll(const std::vector<torch::Tensor>& ts) const {
  Napi::Array out = Napi::Array::New(env(), ts.size());
  for (size_t k = 0; k < ts.size(); ++k) out.Set(static_cast<uint32_t>(k), wrap(ts[k]));
  return out;
}

}  // namespace allcnn
