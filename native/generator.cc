// generator_*: random generators of one's own. Without them every draw uses
// LibTorch's global generator, which networks trained at once in one process
// share: their dropout masks, augmentations and shuffles then depend on how
// the runs interleave. A run with a generator of its own draws the same
// numbers whatever else runs beside it.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#ifdef ALLCNN_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

namespace allcnn {
namespace {

class GeneratorHandle : public Napi::ObjectWrap<GeneratorHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NativeGenerator", {});
    Data(env).generatorCtor = Napi::Persistent(f);
    exports.Set("NativeGenerator", f);
  }
  explicit GeneratorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GeneratorHandle>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "NativeGenerator cannot be constructed directly; use new Generator()");
    }
    at::Generator* g = info[0].As<Napi::External<at::Generator>>().Data();
    generator = std::move(*g);
  }
  at::Generator generator;
};

// Seeds as torch::manual_seed does, so that a generator seeded with s draws
// what the global generator draws after manual_seed(s). A generator may be
// drawing on a worker thread (a network's step): take its lock.
void Seed(at::Generator& g, uint64_t seed) {
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
}

// generator_create(seed, device): a generator for that device's draws.
ALLCNN_OP(generator_create) {
  uint64_t seed = static_cast<uint64_t>(a.int64(0));
  torch::Device device = a.device(1);
  at::Generator g;
  if (device.is_cpu()) g = at::detail::createCPUGenerator(seed);
#ifdef ALLCNN_WITH_CUDA
  // A CUDA generator belongs to one device: "cuda" (index -1) means the current one.
  if (device.is_cuda()) g = at::cuda::detail::createCUDAGenerator(device.index());
#endif
  if (!g.defined()) a.fail(1, "\"cpu\" or a CUDA device");
  Seed(g, seed);
  return Data(a.env()).generatorCtor.New({Napi::External<at::Generator>::New(a.env(), &g)});
}

// generator_manual_seed(generator, seed)
ALLCNN_OP(generator_manual_seed) {
  RandomDraw draw;  // not while a CUDA graph is being captured
  c10::optional<at::Generator> g = a.generator(0);
  if (!g) a.fail(0, "a Generator");
  Seed(*g, static_cast<uint64_t>(a.int64(1)));
  return a.env().Undefined();
}

}  // namespace

bool UnwrapGenerator(Napi::Env env, const Napi::Value& v, at::Generator* out) {
  auto* h = Unwrap<GeneratorHandle>(env, v, Data(env).generatorCtor);
  if (!h || !h->generator.defined()) return false;
  *out = h->generator;
  return true;
}

c10::optional<at::Generator> Args::generator(size_t i) const {
  if (!has(i)) return c10::nullopt;
  at::Generator g;
  if (!UnwrapGenerator(env(), info_[i], &g)) fail(i, "a Generator");
  return g;
}

void InitGenerator(Napi::Env env, Napi::Object e) {
  GeneratorHandle::Init(env, e);
  ALLCNN_EXPORT(e, generator_create);
  ALLCNN_EXPORT(e, generator_manual_seed);
}

}  // namespace allcnn
