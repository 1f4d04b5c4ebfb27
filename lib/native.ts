/**
 * The only module that touches the native addon. It loads the binary that
 * matches the LibTorch on this machine (version, CPU or CUDA; see
 * scripts/libtorch.js): build/Release (built here from source), then the
 * prebuilt binaries in prebuilds/, each described by a manifest beside it. A
 * binary built for another LibTorch is never loaded; after loading, the
 * LibTorch actually linked is checked again. Load failures become one message
 * that says what to do.
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
/** A native random generator, see native/generator.cc. */
export interface NativeGenerator {
  readonly __brand: 'NativeGenerator';
}
export interface NativeTensorInfo {
  shape: number[];
  strides: number[];
  dtype: string;
  device: string;
  requiresGrad: boolean;
  isLeaf: boolean;
  contiguous: boolean;
  channelsLast: boolean;
}
export interface NativeMetrics {
  loss: number;
  correct: number;
  seen: number;
  /** net_take_metrics only: the CUDA graph's status ("off", "warming up", "captured" or "failed: <why>"). */
  graph?: string;
}
/** One event of LibTorch's profiler; times in microseconds. */
export interface NativeProfileEvent {
  /** The op ('aten::cudnn_convolution'), the CUDA runtime call, or the GPU kernel's name. */
  name: string;
  /** 'op': a LibTorch op or scope on the host; 'gpu': a kernel, copy or memset on the GPU; 'other': e.g. a CUDA runtime call. */
  kind: 'op' | 'gpu' | 'other';
  /** Since the profile's earliest event. */
  start: number;
  duration: number;
  thread: number;
  /** The event's own id; a GPU event's or runtime call's linkedId is the id of the op that launched it (0: none). */
  id: number;
  linkedId: number;
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
  /** One learning-rate multiplier per parameter (default 1). */
  lrScales?: number[];
  /** Capture the training step as a CUDA graph (CUDA networks only). */
  cudaGraph?: boolean;
  /** Queue the network's work on a CUDA stream of its own (CUDA networks only). */
  cudaStream?: boolean;
  /** The SGD update as LibTorch's _foreach ops: the same arithmetic in fewer, larger CUDA kernels. */
  foreachSgd?: boolean;
  /** Each convolution and the ReLU after it as one autograd node: cuDNN's fused convolution + bias + ReLU kernel on CUDA. */
  fuseConvRelu?: boolean;
  /** Dropout draws from this generator rather than LibTorch's global one (not with cudaGraph). */
  generator?: NativeGenerator;
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
  tensor_rand(shape: Shape, dtype: string, device: string, generator?: NativeGenerator): T;
  tensor_randn(shape: Shape, dtype: string, device: string, generator?: NativeGenerator): T;
  tensor_arange(start: number, end: number, step: number, dtype: string, device: string): T;
  tensor_randint(low: number, high: number, shape: Shape, device: string, generator?: NativeGenerator): T;
  tensor_randperm(n: number, device: string, generator?: NativeGenerator): T;
  tensor_manual_seed(seed: number): void;
  generator_create(seed: number, device: string): NativeGenerator;
  generator_manual_seed(generator: NativeGenerator, seed: number): void;
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
  tensor_index_select(t: T, dim: number, index: T, checked?: boolean): T;
  tensor_gather(t: T, dim: number, index: T, checked?: boolean): T;
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
  tensor_uniform_(t: T, low: number, high: number, generator?: NativeGenerator): void;
  tensor_normal_(t: T, mean: number, std: number, generator?: NativeGenerator): void;
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
  nn_dropout(x: T, p: number, training: boolean, generator?: NativeGenerator): T;
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
  /** Resolves to the seconds taken; on CUDA with repeat 1, to the seconds to queue the step (the GPU runs behind). */
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

  /**
   * Calls fn under LibTorch's profiler (lib/profile.ts): the events of this thread's ops, and with cuda
   * the GPU's kernels; with tracePath a Chrome trace is written there too (Kineto builds only).
   */
  profiler_run(cuda: boolean, fn: () => void, tracePath?: string): { events: NativeProfileEvent[]; traceError?: string };
}

const ROOT = path.resolve(__dirname, '..', '..');

/** One addon binary the loader considered, and its verdict. */
export interface BinaryCandidate {
  /** Absolute path of the .node file. */
  file: string;
  /** 'built on this machine (build/Release)', 'prebuilt (shipped in the package)', ... */
  kind: string;
  /** 'match': goes with the LibTorch found; 'mismatch': never loaded; 'unverified': no manifest, checked after loading. */
  status: 'match' | 'mismatch' | 'unverified';
  reason: string;
  /** What the binary was built against (written by `npm run build:native` / `npm run build:prebuild`). */
  manifest: BinaryManifest | null;
}
export interface BinaryManifest {
  libtorch: string;
  libdir: string;
  cuda: boolean;
  cxx11Abi: boolean;
  napi: number;
  platform: string;
  arch: string;
  /** sha256 of native/* and CMakeLists.txt when it was built. */
  sources: string;
  sha256: string;
  source?: string;
}
/** A LibTorch installation found on this machine. */
export interface LibTorchInstall {
  source: 'LIBTORCH' | 'pytorch' | 'system' | 'folder';
  libdir: string;
  version: string;
  cuda: boolean;
  cxx11Abi?: boolean;
}
/** What the loader found and would load. */
export interface BinarySelection {
  found: {
    /** The LibTorch LIBTORCH or LIBTORCH_USE_PYTORCH=1 names. */
    requested: LibTorchInstall | null;
    requestError: string | null;
    /** A LibTorch in a system library folder (Debian's libtorch-dev). */
    system: LibTorchInstall | null;
    /** The LibTorch a source build would use. */
    target: LibTorchInstall | null;
  };
  candidates: BinaryCandidate[];
  chosen: BinaryCandidate | null;
}
/** The binary loaded, and why. */
export interface LoadedBinary extends BinaryCandidate {
  /** The LibTorch library the addon linked at run time. */
  libraryPath: string;
}

interface Selector {
  ROOT: string;
  choose(root?: string, env?: NodeJS.ProcessEnv): BinarySelection;
  howToFix(sel: BinarySelection): string;
  sourcesHash(root?: string): string;
  majorMinor(v: string): string;
  libtorchAt(libdir: string): LibTorchInstall | null;
  FIX: { debian: string; folder: string; pytorch: string };
}

/** scripts/libtorch.js: plain JS, shared with the install script (which runs before TypeScript is compiled). */
export function selector(): Selector {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(path.join(ROOT, 'scripts', 'libtorch.js')) as Selector;
}

/** Which addon binary would be loaded, and why each candidate was or was not chosen (for `allcnn doctor`). */
export function selectBinary(): BinarySelection {
  return selector().choose(ROOT, process.env);
}

/** A binary's path as messages show it: relative inside the package, absolute outside (ALLCNN_BINARY). */
export function shownBinary(file: string): string {
  const relative = path.relative(ROOT, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** ALLCNN_BINARY names a file that is not the addon: rebuilding or installing LibTorch would not help. */
function forcedFailure(c: BinaryCandidate, what: string): BackendError {
  return new BackendError(
    `allcnn: ALLCNN_BINARY=${process.env.ALLCNN_BINARY} names ${c.file}, which ${what}.\n` +
      'Unset ALLCNN_BINARY to use the binary allcnn picks itself (npx allcnn doctor lists them), or point it at an allcnn.node built from native/ (npm run build:native).',
  );
}

function loadFailure(c: BinaryCandidate, err: Error, sel: BinarySelection): BackendError {
  const first = err.message.split('\n')[0];
  const forced = c.kind.startsWith('forced');
  if (forced && !/undefined symbol|cannot open shared object file/.test(first)) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const fs = require('node:fs') as typeof import('node:fs');
    return forcedFailure(c, fs.existsSync(c.file) ? `failed to load (${first})` : 'does not exist');
  }
  // A library of LibTorch's that the loader cannot find: a rebuild would need it too.
  if (/cannot open shared object file/.test(first)) {
    return new BackendError(
      `allcnn: a library that ${shownBinary(c.file)} needs is missing (LibTorch or one of its dependencies).\n  ${first}\n` +
        `Repair the LibTorch it was built against (${c.reason}): on Debian or Ubuntu, apt-get install -y --reinstall libtorch-dev; ` +
        'for a LibTorch in a folder of your own, set LIBTORCH to it. Run `npx allcnn doctor` to see what was found.',
    );
  }
  const cause = /undefined symbol/.test(first)
    ? `${shownBinary(c.file)} does not fit the LibTorch it linked (an ABI or version mismatch: ${c.reason}).`
    : `${shownBinary(c.file)} failed to load.`;
  return new BackendError(`allcnn: ${cause}\n  ${first}\n${selector().howToFix(sel)}`);
}

/**
 * A copy of the package without scripts/ (a hand-made bundle): only a binary
 * built here can be meant, checked after loading like an unverified one.
 */
function loadWithoutSelector(err: Error): NativeAddon {
  const file = path.join(ROOT, 'build', 'Release', 'allcnn.node');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require('node:fs') as typeof import('node:fs');
  if (!fs.existsSync(file)) throw new BackendError(`allcnn: ${err.message.split('\n')[0]}; and there is no build/Release/allcnn.node. Copy the whole package (scripts/ included).`);
  const addon = require(file) as NativeAddon;
  const info = addon.backend_info();
  const mm = (v: string) => v.split('.').slice(0, 2).join('.');
  if (info.loadedVersion !== 'unknown' && mm(info.loadedVersion) !== mm(info.compiledVersion)) {
    throw new BackendError(`allcnn: build/Release/allcnn.node was compiled against LibTorch ${info.compiledVersion} but LibTorch ${info.loadedVersion} was loaded from ${info.libraryPath}: rebuild it.`);
  }
  loaded = { file, kind: 'built on this machine (build/Release)', status: 'unverified', reason: 'scripts/libtorch.js is missing: checked after loading', manifest: null, libraryPath: info.libraryPath };
  return addon;
}

/**
 * Some LibTorch builds (Debian trixie's 2.6, for one) link OpenMPI and so UCX,
 * whose libucs, as it is loaded, patches libc's brk, sbrk, mmap and munmap to
 * track memory for RDMA. Under Node that patching occasionally unmaps a live
 * page of the malloc heap: the process dies with SIGSEGV at random (7 runs in
 * 1,000 of `allcnn train`; docs/RESULTS.md). allcnn never uses MPI, so turn the
 * hooks off before the library loads, unless the user chose a mode. (jest
 * gives each test file a copy of process.env: there, set it outside.)
 */
function keepUcxOffTheHeap(): void {
  if (process.env.UCX_MEM_MMAP_HOOK_MODE === undefined) process.env.UCX_MEM_MMAP_HOOK_MODE = 'none';
}

function load(): NativeAddon {
  keepUcxOffTheHeap();
  let lt: Selector;
  try {
    lt = selector();
  } catch (err) {
    return loadWithoutSelector(err as Error);
  }
  const sel = lt.choose(ROOT, process.env);
  const c = sel.chosen;
  if (!c) throw new BackendError(lt.howToFix(sel));
  let addon: NativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    addon = require(c.file) as NativeAddon;
  } catch (err) {
    throw loadFailure(c, err as Error, sel);
  }
  // require() loads any file: one that is not a Node addon (ALLCNN_BINARY naming a script, an empty file) loads as an empty module.
  if (typeof addon?.backend_info !== 'function') {
    if (c.kind.startsWith('forced')) throw forcedFailure(c, 'is not the allcnn addon (it has no backend_info(): not a .node file built from native/?)');
    throw new BackendError(`allcnn: ${shownBinary(c.file)} is not the allcnn addon (it has no backend_info(): not a .node file built from native/?)\n${lt.howToFix(sel)}`);
  }
  const info = addon.backend_info();
  const rebuild = `Rebuild it against the LibTorch you want: npx allcnn doctor --build (or npm run build:native in a clone)`;
  if (info.loadedVersion !== 'unknown' && lt.majorMinor(info.loadedVersion) !== lt.majorMinor(info.compiledVersion)) {
    throw new BackendError(
      `allcnn: ${shownBinary(c.file)} was compiled against LibTorch ${info.compiledVersion} but LibTorch ${info.loadedVersion} ` +
        `was loaded from ${info.libraryPath}. ${rebuild}\n${lt.howToFix(sel)}`,
    );
  }
  const want = sel.found.requested;
  if (want && info.libraryPath && path.dirname(info.libraryPath) !== want.libdir) {
    throw new BackendError(
      `allcnn: ${shownBinary(c.file)} linked LibTorch from ${path.dirname(info.libraryPath)}, ` +
        `but ${want.source === 'LIBTORCH' ? `LIBTORCH=${process.env.LIBTORCH}` : 'LIBTORCH_USE_PYTORCH=1'} asks for ${want.libdir}. ${rebuild}`,
    );
  }
  if (c.manifest && c.manifest.cuda !== info.builtWithCuda) {
    throw new BackendError(`allcnn: ${shownBinary(c.file)} does not match its manifest (CUDA ${info.builtWithCuda}, manifest ${c.manifest.cuda}). ${rebuild}`);
  }
  loaded = { ...c, libraryPath: info.libraryPath };
  return addon;
}

let cached: NativeAddon | undefined;
let loaded: LoadedBinary | null = null;

/** The loaded addon (loaded on first use, so `allcnn doctor` can report a failure). */
export function native(): NativeAddon {
  if (!cached) cached = load();
  return cached;
}

/** The addon binary in use (its path, prebuilt or built here, and why it was chosen); loads it if need be. */
export function loadedBinary(): LoadedBinary {
  native();
  return loaded!;
}
