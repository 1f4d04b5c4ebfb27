// backend_*: what LibTorch this is, what it can reach, and module init.
#include "common.h"

#include <dlfcn.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <regex>

#ifdef ALLCNN_WITH_CUDA
// The light header (LibTorch >= 2.0) is all getDeviceProperties needs; the
// full one adds ATen/cuda/Exceptions.h and the cuSOLVER headers behind it.
#if __has_include(<ATen/cuda/CUDAContextLight.h>)
#include <ATen/cuda/CUDAContextLight.h>
#else
#include <ATen/cuda/CUDAContext.h>
#endif
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace allcnn {
namespace {

// The LibTorch library actually loaded: its path, and its version as read
// from the file name (Debian: libtorch_cpu.so.1.13.0), a PyTorch install
// (torch/version.py) or a LibTorch zip (build-version).
std::pair<std::string, std::string> LoadedLibTorch() {
  Dl_info info{};
  // Any function that lives in libtorch_cpu / libc10 will do.
  void* symbol = reinterpret_cast<void*>(&at::globalContext);
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return {"", "unknown"};
  char resolved[PATH_MAX];
  std::string path = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
  std::smatch m;
  if (std::regex_search(path, m, std::regex(R"(\.so\.(\d+\.\d+(\.\d+)?)$)"))) return {path, m[1]};
  std::string dir = path.substr(0, path.find_last_of('/'));
  std::ifstream py(dir + "/../version.py");
  std::string line;
  while (std::getline(py, line)) {
    if (std::regex_search(line, m, std::regex(R"(__version__\s*=\s*'([^']+)')"))) return {path, m[1]};
  }
  std::ifstream zip(dir + "/../build-version");
  if (std::getline(zip, line) && !line.empty()) return {path, line};
  return {path, "unknown"};
}

ALLCNN_OP(backend_info) {
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  auto [path, loaded] = LoadedLibTorch();
  o.Set("compiledVersion", TORCH_VERSION);
  o.Set("loadedVersion", loaded);
  o.Set("libraryPath", path);
  o.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
  bool cuda = torch::cuda::is_available();
  o.Set("cudaAvailable", cuda);
  o.Set("cudaDeviceCount", static_cast<double>(cuda ? torch::cuda::device_count() : 0));
  o.Set("cudnnAvailable", cuda && torch::cuda::cudnn_is_available());
  const auto& hooks = at::detail::getCUDAHooks();
  o.Set("cudaVersion", cuda ? Napi::Value(Napi::Number::New(env, static_cast<double>(hooks.versionCUDART()))) : env.Null());
  o.Set("cudnnVersion", cuda && hooks.hasCuDNN() ? Napi::Value(Napi::Number::New(env, static_cast<double>(hooks.versionCuDNN()))) : env.Null());
  Napi::Array names = Napi::Array::New(env);
#ifdef ALLCNN_WITH_CUDA
  for (int d = 0; cuda && d < static_cast<int>(torch::cuda::device_count()); ++d) {
    names.Set(static_cast<uint32_t>(d), at::cuda::getDeviceProperties(d)->name);
  }
#endif
  o.Set("cudaDevices", names);
  o.Set("builtWithCuda",
#ifdef ALLCNN_WITH_CUDA
        true
#else
        false
#endif
  );
  o.Set("threads", torch::get_num_threads());
  return o;
}

ALLCNN_OP(backend_set_num_threads) {
  int64_t n = a.int64(0);
  if (n < 1 || n > 1024) a.fail(0, "a thread count between 1 and 1024");
  torch::set_num_threads(static_cast<int>(n));
  return a.env().Undefined();
}

// backend_configure({cudnnBenchmark?, tf32?})
ALLCNN_OP(backend_configure) {
  if (!a.raw(0).IsObject()) a.fail(0, "an options object");
  Napi::Object o = a.raw(0).As<Napi::Object>();
  auto& ctx = at::globalContext();
  if (o.Get("cudnnBenchmark").IsBoolean()) ctx.setBenchmarkCuDNN(o.Get("cudnnBenchmark").As<Napi::Boolean>());
  if (o.Get("tf32").IsBoolean()) {
    bool on = o.Get("tf32").As<Napi::Boolean>();
    ctx.setAllowTF32CuBLAS(on);
    ctx.setAllowTF32CuDNN(on);
  }
  return a.env().Undefined();
}

ALLCNN_OP(backend_memory) {
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("live", MemoryStats(a.env()));
#ifdef ALLCNN_WITH_CUDA
  Napi::Array devices = Napi::Array::New(a.env());
  for (int d = 0; torch::cuda::is_available() && d < static_cast<int>(torch::cuda::device_count()); ++d) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d);
    Napi::Object s = Napi::Object::New(a.env());
    // StatType::AGGREGATE is 0; its namespace moved between LibTorch 1.x and 2.x.
    const size_t all = 0;
    s.Set("allocatedBytes", static_cast<double>(stats.allocated_bytes[all].current));
    s.Set("reservedBytes", static_cast<double>(stats.reserved_bytes[all].current));
    s.Set("peakAllocatedBytes", static_cast<double>(stats.allocated_bytes[all].peak));
    devices.Set(static_cast<uint32_t>(d), s);
  }
  o.Set("cuda", devices);
#endif
  return o;
}

ALLCNN_OP(backend_empty_cache) {
#ifdef ALLCNN_WITH_CUDA
  RandomDraw wait;  // cudaFree synchronises the device: not during a capture (SynchronizeDevice)
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  return a.env().Undefined();
}

ALLCNN_OP(backend_synchronize) {
  SynchronizeDevice();
  return a.env().Undefined();
}

// backend_bench_add_loop(t, n): t + 1, n times, inside C++: the baseline for
// the cost of one binding call (bench/ops.ts runs the same op from JS).
ALLCNN_OP(backend_bench_add_loop) {
  torch::Tensor t = a.tensor(0);
  int64_t n = a.int64(1);
  if (n < 1) a.fail(1, "a positive count");
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor r = t + 1;
  }
  if (t.is_cuda()) SynchronizeDevice();
  return Napi::Number::New(a.env(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

void SynchronizeDevice() {
  RandomDraw wait;  // not during a capture (common.h)
  if (torch::cuda::is_available()) torch::cuda::synchronize();
}

void InitBackend(Napi::Env env, Napi::Object e) {
  ALLCNN_EXPORT(e, backend_info); ALLCNN_EXPORT(e, backend_set_num_threads); ALLCNN_EXPORT(e, backend_configure);
  ALLCNN_EXPORT(e, backend_memory); ALLCNN_EXPORT(e, backend_empty_cache); ALLCNN_EXPORT(e, backend_synchronize);
  ALLCNN_EXPORT(e, backend_bench_add_loop);
}

}  // namespace allcnn

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  allcnn::TensorHandle::Init(env, exports);
  allcnn::InitTensorOps(env, exports);
  allcnn::InitNnOps(env, exports);
  allcnn::InitNet(env, exports);
  allcnn::InitBackend(env, exports);
  allcnn::InitProfiler(env, exports);
  allcnn::InitGenerator(env, exports);
  return exports;
}

NODE_API_MODULE(allcnn, InitAddon)
