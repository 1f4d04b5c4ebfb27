// A network's own CUDA stream (net.h, NetStreamScope). Several networks
// trained at once (`allcnn reproduce --concurrency N`) each queue their steps
// on their own stream, so that one network's kernels can run beside
// another's instead of after them on the one default stream.
//
// The rules that keep this race-free, all applied by NetStreamScope:
//  - inputs are made on the caller's stream: the network's stream waits for
//    it (an event; the host does not wait) before using them;
//  - an input may be freed by TypeScript while the network's stream still
//    reads it: recordStream keeps its memory from reuse until then;
//  - results the caller goes on using (net_forward's logits): the caller's
//    stream waits for the network's, and the result is recorded on it;
//  - metrics are read on the network's stream (item() waits for it), and
//    net_release and ~Net synchronize it before tensors can be freed.
#include "net.h"

#include <c10/core/Event.h>

#ifdef ALLCNN_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace allcnn {

void WaitFor(const c10::Stream& waiter, const c10::Stream& producer) {
  c10::Event event(producer.device_type());
  event.record(producer);
  event.block(waiter);
}

#ifdef ALLCNN_WITH_CUDA

namespace {

// The caching allocator's promise not to reuse `t`'s memory before `stream`
// has done what is queued on it now.
void RecordOn(const torch::Tensor& t, const c10::Stream& stream) {
  if (t.defined() && t.is_cuda()) c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), c10::cuda::CUDAStream(stream));
}

}  // namespace

c10::Stream NewNetStream(const torch::Device& device) {
  if (!device.is_cuda()) throw std::invalid_argument("a stream of its own needs a network on a CUDA device");
  return c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
}

NetStreamScope::NetStreamScope(const Net& net, std::initializer_list<torch::Tensor> inputs, bool join) : join_(join) {
  if (!net.stream) return;
  const c10::Stream own = *net.stream;
  const c10::Stream caller = c10::cuda::getCurrentCUDAStream(own.device_index());
  WaitFor(own, caller);
  for (const torch::Tensor& t : inputs) RecordOn(t, own);
  caller_ = caller;
  own_ = own;
  guard_.reset_stream(own);
}

NetStreamScope::~NetStreamScope() {
  try {
    if (own_ && join_) WaitFor(*caller_, *own_);
  } catch (...) {
    // A destructor may not throw (the process would abort): CUDA in an error
    // state (after a failed kernel) says so at the caller's next call instead.
  }
}

const torch::Tensor& NetStreamScope::handOut(const torch::Tensor& t) const {
  if (own_) RecordOn(t, *caller_);
  return t;
}

#else  // without CUDA no network has a stream of its own

c10::Stream NewNetStream(const torch::Device&) {
  throw std::invalid_argument("a stream of its own needs CUDA: this addon was built without it (see `allcnn doctor`)");
}

NetStreamScope::NetStreamScope(const Net&, std::initializer_list<torch::Tensor>, bool join) : join_(join) {}
NetStreamScope::~NetStreamScope() = default;
const torch::Tensor& NetStreamScope::handOut(const torch::Tensor& t) const { return t; }

#endif

}  // namespace allcnn
