/** What LibTorch allcnn runs on, and process-wide settings. */
import * as os from 'node:os';
import { checkInteger, checkKeys } from './check';
import { BackendError } from './errors';
import { native, NativeBackendInfo } from './native';

export type BackendInfo = NativeBackendInfo;

/** LibTorch version (compiled and loaded), CUDA/cuDNN, devices and CPU threads. */
export function backend(): BackendInfo {
  return native().backend_info();
}

/** LibTorch's intra-op CPU threads. */
export function setNumThreads(n: number): void {
  native().backend_set_num_threads(checkInteger('threads', n, 1, 1024));
}

/** cuDNN autotuning and TF32 matmuls/convolutions on Ampere+ GPUs. */
export function configureBackend(o: { cudnnBenchmark?: boolean; tf32?: boolean }): void {
  checkKeys('options', o, ['cudnnBenchmark', 'tf32']);
  native().backend_configure(o);
}

export interface MemoryInfo {
  /** Live tensor handles and their bytes, per device. */
  live: Record<string, { tensors: number; bytes: number }>;
  /** CUDA caching-allocator statistics per device (CUDA builds only). */
  cuda?: Array<Record<string, number>>;
}
export function memory(): MemoryInfo {
  return native().backend_memory();
}
/** Live tensors on all devices (the number scopes and dispose() bring back to baseline). */
export function liveTensors(): number {
  return Object.values(memory().live).reduce((n, d) => n + d.tensors, 0);
}
/** Returns cached, unused CUDA memory to the driver. */
export function emptyCache(): void {
  native().backend_empty_cache();
}
export function synchronize(): void {
  native().backend_synchronize();
}

/** Whether a CUDA device is usable. */
export function cudaAvailable(): boolean {
  return backend().cudaAvailable;
}

/**
 * Fails at once when `device` cannot be used by this build, before minutes
 * go into reading and whitening the data set (the addon would refuse it
 * later, at the first tensor moved there).
 */
export function requireDevice(device: string): void {
  if (!device.startsWith('cuda')) return;
  const b = backend();
  if (!b.cudaAvailable) {
    const why = b.builtWithCuda ? 'no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)' : `the addon was built against a CPU-only LibTorch (${b.libraryPath})`;
    throw new BackendError(`device "${device}" requested, but ${why}. Use the CPU (device 'cpu'; on the command line --device cpu), or build against a CUDA LibTorch: LIBTORCH_USE_PYTORCH=1 npx allcnn doctor --build (see \`allcnn doctor\`)`);
  }
  const index = Number(device.split(':')[1] ?? 0);
  if (index >= b.cudaDeviceCount) throw new BackendError(`device "${device}" does not exist: ${b.cudaDeviceCount} CUDA device(s), cuda:0 to cuda:${b.cudaDeviceCount - 1}`);
}

// LibTorch's default intra-op thread count can be 1 in some builds (Debian's
// reports 1); use every core unless the user said otherwise.
let threadsSet = false;
export function ensureDefaultThreads(): void {
  if (threadsSet) return;
  threadsSet = true;
  if (!process.env.OMP_NUM_THREADS && !process.env.ALLCNN_THREADS) setNumThreads(os.cpus().length);
  else if (process.env.ALLCNN_THREADS) setNumThreads(Number(process.env.ALLCNN_THREADS));
}
