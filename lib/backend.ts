/** What LibTorch allcnn runs on, and process-wide settings. */
import * as os from 'node:os';
import { checkInteger } from './check';
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

// LibTorch's default intra-op thread count can be 1 in some builds (Debian's
// reports 1); use every core unless the user said otherwise.
let threadsSet = false;
export function ensureDefaultThreads(): void {
  if (threadsSet) return;
  threadsSet = true;
  if (!process.env.OMP_NUM_THREADS && !process.env.ALLCNN_THREADS) setNumThreads(os.cpus().length);
  else if (process.env.ALLCNN_THREADS) setNumThreads(Number(process.env.ALLCNN_THREADS));
}
