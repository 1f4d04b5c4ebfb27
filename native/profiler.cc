// profiler_run: LibTorch's profiler around a JS function, so that
// `npm run bench:profile` can say which ops, and on CUDA which kernels, a
// training step spends its time in (lib/profile.ts sums the events up).
//
// The profiler records the ops of the thread that starts it, and of the
// autograd engine's threads working for that thread: the function runs
// steps on the JS thread (net_train_step_sync), not on a libuv worker. With
// `cuda`, CUPTI records the GPU's kernels and copies too (a LibTorch built
// with Kineto, as PyTorch's wheels are); each names the op that launched it.
//
// The profiler lives only inside one call: one left running at exit crashes
// LibTorch 2.6's teardown (found by the fuzzer when this was start and stop
// functions), and stopping it from an atexit handler is too late (the
// thread's locals are gone by then).
#include "common.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <cstdint>
#include <set>

namespace allcnn {
namespace {

namespace prof = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

bool profiling = false;  // touched on the JS thread only

// LibTorch 1.13's events count microseconds (startUs, durationUs), 2.x's
// nanoseconds (startNs, durationNs): use whichever this LibTorch has.
template <typename E>
auto StartNs(const E& e, int) -> decltype(e.startNs()) { return e.startNs(); }
template <typename E>
uint64_t StartNs(const E& e, long) { return e.startUs() * 1000; }
template <typename E>
auto DurationNs(const E& e, int) -> decltype(e.durationNs()) { return e.durationNs(); }
template <typename E>
uint64_t DurationNs(const E& e, long) { return e.durationUs() * 1000; }

// What an event is, from its libkineto::ActivityType (whose header LibTorch
// does not always ship; the values have been the same since Kineto began):
// CPU_OP 0 and USER_ANNOTATION 1 are ops and scopes on the host; GPU_MEMCPY 3,
// GPU_MEMSET 4 and CONCURRENT_KERNEL 5 are the GPU's work. The rest (CUDA
// runtime calls, GPU_USER_ANNOTATION 2: a scope's span on the GPU, which
// would count its kernels twice) are "other".
const char* EventKind(uint8_t activityType) {
  if (activityType <= 1) return "op";
  if (activityType >= 3 && activityType <= 5) return "gpu";
  return "other";
}

// The events as JS objects: {name, kind: 'op'|'gpu'|'other', start, duration
// (microseconds), thread, id, linkedId}; a GPU event's or runtime call's
// linkedId is the id of the op that launched it. Starts count from the
// earliest event, subtracted in whole nanoseconds: as nanoseconds since 1970
// (about 1.8e18, where doubles are 256 ns apart) a start came back up to
// 0.13 us early, before the end of the op that ran just before it, and
// lib/profile.ts nested the one in the other (counted twice).
Napi::Array EventsToJs(Napi::Env env, const std::vector<prof::KinetoEvent>& events) {
  Napi::Array list = Napi::Array::New(env, events.size());
  uint64_t origin = UINT64_MAX;
  for (const prof::KinetoEvent& e : events) origin = std::min<uint64_t>(origin, StartNs(e, 0));
  for (size_t i = 0; i < events.size(); ++i) {
    const prof::KinetoEvent& e = events[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", e.name());
    o.Set("kind", EventKind(e.activityType()));
    o.Set("start", static_cast<double>(StartNs(e, 0) - origin) / 1000.0);
    o.Set("duration", static_cast<double>(DurationNs(e, 0)) / 1000.0);
    o.Set("thread", static_cast<double>(e.startThreadId()));
    o.Set("id", static_cast<double>(e.correlationId()));
    o.Set("linkedId", static_cast<double>(e.linkedCorrelationId()));
    list.Set(static_cast<uint32_t>(i), o);
  }
  return list;
}

// profiler_run(cuda, fn, tracePath?): calls fn() with the profiler on (and
// with cuda, GPU kernels recorded too) and returns {events, traceError?}.
// With tracePath it also writes a Chrome trace there (Kineto builds only;
// traceError says why not otherwise, and the events still come back). What
// fn throws is thrown on, the profiler stopped.
ALLCNN_OP(profiler_run) {
  bool cuda = a.boolean(0);
#ifndef ALLCNN_WITH_CUDA
  if (cuda) a.fail(0, "false: this addon was built without CUDA (see `allcnn doctor`)");
#endif
  if (!a.raw(1).IsFunction()) a.fail(1, "a function");
  std::string tracePath = a.has(2) ? a.string(2) : "";
  if (profiling) throw std::runtime_error("the profiler is already running (a profiled function cannot profile)");
  impl::ProfilerConfig config(impl::ProfilerState::KINETO);
  std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  if (cuda) activities.insert(impl::ActivityType::CUDA);
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  profiling = true;
  try {
    a.raw(1).As<Napi::Function>().Call({});
  } catch (...) {
    profiling = false;
    try {
      prof::disableProfiler();
    } catch (...) {
      // fn's error is the one to report
    }
    throw;
  }
  profiling = false;
  std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
  Napi::Object out = Napi::Object::New(a.env());
  out.Set("events", EventsToJs(a.env(), result->events()));
  if (!tracePath.empty()) {
    try {
      result->save(tracePath);
    } catch (const c10::Error& e) {
      out.Set("traceError", e.what_without_backtrace());
    } catch (const std::exception& e) {
      out.Set("traceError", e.what());
    }
  }
  return out;
}

}  // namespace

void InitProfiler(Napi::Env env, Napi::Object e) {
  ALLCNN_EXPORT(e, profiler_run);
}

}  // namespace allcnn
