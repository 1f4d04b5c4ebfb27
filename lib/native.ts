/**
 * The only module that touches the native addon. It loads the binary that
 * matches this machine (node-gyp-build: build/Release, then prebuilds/),
 * refuses a LibTorch version other than the one it was compiled against, and
 * turns load failures into one message that says what to do.
 */
import * as path from 'node:path';
import { BackendError } from './errors';

/** A native tensor handle; freed by dispose(), or by the GC as a safety net. */
export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
}
/** A native network (layer program + parameters), see native/net.cc. */
export interface NativeNet {
  readonly __brand: 'NativeNet';
}
export interface NativeTensorInfo {
  shape: number[];
  strides: number[];
  dtype: string;
  device: string;
  requiresGrad: boolean;
  contiguous: boolean;
  channelsLast: boolean;
}
export interface NativeMetrics {
  loss: number;
  correct: number;
  seen: number;
}
export interface NativeLayer {
  kind: 'conv' | 'relu' | 'maxpool' | 'avgpool' | 'dropout' | 'gap' | 'batchnorm' | 'linear' | 'flatten';
  weight?: number;
  bias?: number;
  runningMean?: number;
  runningVar?: number;
  kernel?: number;
  stride?: number;
  padding?: number;
  p?: number;
  momentum?: number;
  eps?: number;
}
export interface NativeNetOptions {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  labelSmoothing: number;
  channelsLast: boolean;
  autocast: string | null;
}
export interface NativeBackendInfo {
  compiledVersion: string;
  loadedVersion: string;
  libraryPath: string;
  cxx11Abi: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cudnnAvailable: boolean;
  cudaVersion: number | null;
  cudnnVersion: number | null;
  cudaDevices: string[];
  builtWithCuda: boolean;
  threads: number;
}

type T = NativeTensor;
type Shape = number[];

/** The addon's exports, one prefix per noun (tensor_, nn_, optim_, net_, backend_). */
export interface NativeAddon {
  tensor_zeros(shape: Shape, dtype: string, device: string): T;
  tensor_ones(shape: Shape, dtype: string, device: string): T;
  tensor_empty(shape: Shape, dtype: string, device: string): T;
  tensor_full(shape: Shape, value: number, dtype: string, device: string): T;
  tensor_rand(shape: Shape, dtype: string, device: string): T;
  tensor_randn(shape: Shape, dtype: string, device: string): T;
  tensor_arange(start: number, end: number, step: number, dtype: string, device: string): T;
  tensor_randint(low: number, high: number, shape: Shape, device: string): T;
  tensor_randperm(n: number, device: string): T;
  tensor_manual_seed(seed: number): void;
  tensor_from_buffer(data: ArrayBufferView, shape: Shape, dtype: string): T;
  tensor_to_buffer(t: T): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array | Uint8Array;
  tensor_item(t: T): number;
  tensor_info(t: T): NativeTensorInfo;
  tensor_reshape(t: T, shape: Shape): T;
  tensor_view(t: T, shape: Shape): T;
  tensor_permute(t: T, dims: number[]): T;
  tensor_transpose(t: T, a: number, b: number): T;
  tensor_expand(t: T, shape: Shape): T;
  tensor_squeeze(t: T, dim: number): T;
  tensor_unsqueeze(t: T, dim: number): T;
  tensor_contiguous(t: T, channelsLast?: boolean): T;
  tensor_narrow(t: T, dim: number, start: number, length: number): T;
  tensor_slice(t: T, dim: number, start: number, end: number, step: number): T;
  tensor_index_select(t: T, dim: number, index: T): T;
  tensor_gather(t: T, dim: number, index: T): T;
  tensor_cat(ts: T[], dim: number): T;
  tensor_stack(ts: T[], dim: number): T;
  tensor_flip(t: T, dims: number[]): T;
  tensor_pad(t: T, pads: number[], mode: string, value: number): T;
  tensor_clone(t: T): T;
  tensor_to(t: T, device: string | null, dtype: string | null, nonBlocking: boolean): T;
  tensor_binary(op: string, a: T, b: T | number): T;
  tensor_binary_(op: string, a: T, b: T | number): void;
  tensor_unary(op: string, t: T): T;
  tensor_fill_(t: T, value: number): void;
  tensor_uniform_(t: T, low: number, high: number): void;
  tensor_normal_(t: T, mean: number, std: number): void;
  tensor_clamp(t: T, min: number | null, max: number | null): T;
  tensor_where(cond: T, a: T, b: T): T;
  tensor_matmul(a: T, b: T): T;
  tensor_outer(a: T, b: T): T;
  tensor_eigh(t: T): [T, T];
  tensor_reduce(op: string, t: T, dims: number[] | null, keepdim: boolean, unbiased: boolean): T;
  tensor_set_requires_grad(t: T, on: boolean): void;
  tensor_backward(t: T, grad?: T): void;
  tensor_grad(t: T): T | null;
  tensor_zero_grad(t: T): void;
  tensor_set_grad_enabled(on: boolean): boolean;

  nn_conv2d(x: T, w: T, b: T | null, stride: number[], padding: number[], dilation: number[], groups: number): T;
  nn_max_pool2d(x: T, kernel: number[], stride: number[], padding: number[], ceilMode: boolean): T;
  nn_avg_pool2d(x: T, kernel: number[], stride: number[], padding: number[], ceilMode: boolean): T;
  nn_adaptive_avg_pool2d(x: T, size: number[]): T;
  nn_relu(x: T): T;
  nn_dropout(x: T, p: number, training: boolean): T;
  nn_batch_norm(x: T, w: T | null, b: T | null, mean: T | null, variance: T | null, training: boolean, momentum: number, eps: number): T;
  nn_linear(x: T, w: T, b: T | null): T;
  nn_log_softmax(x: T, dim: number): T;
  nn_cross_entropy(logits: T, target: T, labelSmoothing: number): T;
  nn_interpolate(x: T, size: number[], mode: string, alignCorners: boolean): T;
  nn_affine_grid(theta: T, size: number[], alignCorners: boolean): T;
  nn_grid_sample(x: T, grid: T, mode: string, padding: string, alignCorners: boolean): T;
  nn_correct(logits: T, target: T): T;
  optim_sgd_step(params: T[], buffers: T[], lr: number, momentum: number, weightDecay: number, nesterov: boolean): void;

  net_create(layers: NativeLayer[], params: T[], momentumBuffers: T[], buffers: T[], options: NativeNetOptions): NativeNet;
  net_forward(net: NativeNet, x: T, training: boolean): T;
  net_train_step(net: NativeNet, x: T, y: T, lr: number, repeat?: number): Promise<number>;
  net_train_step_sync(net: NativeNet, x: T, y: T, lr: number): void;
  net_take_metrics(net: NativeNet): NativeMetrics;
  net_evaluate(net: NativeNet, x: T, y: T, batchSize: number): Promise<NativeMetrics>;
  net_release(net: NativeNet): void;

  backend_info(): NativeBackendInfo;
  backend_set_num_threads(n: number): void;
  backend_configure(options: { cudnnBenchmark?: boolean; tf32?: boolean }): void;
  backend_memory(): { live: Record<string, { tensors: number; bytes: number }>; cuda?: Array<Record<string, number>> };
  backend_empty_cache(): void;
  backend_synchronize(): void;
  backend_bench_add_loop(t: T, n: number): number;
}

const ROOT = path.resolve(__dirname, '..', '..');

const HOW_TO_FIX = `Possible solutions:
  - Debian/Ubuntu (CPU): apt-get install -y libtorch-dev cmake && npm run build:native
  - An unpacked LibTorch folder: LIBTORCH=/path/to/libtorch npm run build:native
  - PyTorch installed (CPU or CUDA): LIBTORCH_USE_PYTORCH=1 npm run build:native
  - Run \`npx allcnn doctor\` to see what was found.`;

function majorMinor(v: string): string {
  return v.split('.').slice(0, 2).join('.');
}

function load(): NativeAddon {
  let addon: NativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    addon = require('node-gyp-build')(ROOT) as NativeAddon;
  } catch (err) {
    const msg = (err as Error).message;
    const cause = /libtorch|libc10|undefined symbol/i.test(msg)
      ? 'The addon was found but LibTorch could not be loaded with it (missing library or a different LibTorch version / ABI than it was built against).'
      : /No native build was found/.test(msg)
        ? 'The native addon has not been built for this machine.'
        : 'The native addon failed to load.';
    throw new BackendError(`allcnn: ${cause}\n  ${msg.split('\n')[0]}\n${HOW_TO_FIX}`);
  }
  const info = addon.backend_info();
  if (info.loadedVersion !== 'unknown' && majorMinor(info.loadedVersion) !== majorMinor(info.compiledVersion)) {
    throw new BackendError(
      `allcnn: the addon was compiled against LibTorch ${info.compiledVersion} but LibTorch ${info.loadedVersion} ` +
        `was loaded from ${info.libraryPath}. Rebuild it against the LibTorch you want: npm run build:native\n${HOW_TO_FIX}`,
    );
  }
  return addon;
}

let cached: NativeAddon | undefined;

/** The loaded addon (loaded on first use, so `allcnn doctor` can report a failure). */
export function native(): NativeAddon {
  if (!cached) cached = load();
  return cached;
}
