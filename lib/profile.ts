/**
 * Where a training step spends its time: LibTorch's profiler around a
 * function, and the sums that answer the question (`npm run bench:profile`).
 *
 * Three views of the same events, per step:
 * - by part: each op counted in the top-level op it ran inside, e.g. a
 *   convolution's bias add in `aten::conv2d`, a backward kernel in
 *   `ConvolutionBackward0`, the update in `allcnn::sgd`;
 * - by op: the innermost op (`aten::cudnn_convolution`, `aten::add_`);
 * - by kernel (CUDA): the GPU kernels themselves.
 * On the CPU the time is the ops' self time (without the ops they called);
 * on CUDA it is GPU time, each kernel counted in the op that launched it.
 *
 * The profiler records the ops of the thread that starts it (and the
 * autograd engine's threads working for it), so `fn` must be synchronous:
 * a step run on a libuv worker (net_train_step) would go unseen.
 */
import { synchronize } from './backend';
import { isThenable } from './check';
import { InvalidArgumentError } from './errors';
import { native, NativeProfileEvent } from './native';

export type ProfileEvent = NativeProfileEvent;

export interface Profile {
  events: ProfileEvent[];
  /** Wall-clock seconds of fn, to the end of its GPU work. */
  seconds: number;
  /** Why no Chrome trace was written, when one was asked for and could not be. */
  traceError?: string;
}

/**
 * Runs fn under LibTorch's profiler. With cuda, GPU kernels are recorded too;
 * with trace, a Chrome trace is written. What fn throws is thrown on. fn must
 * not end the process: LibTorch 2.6 crashes at exit while a profiler runs.
 */
export function profile(fn: () => void, options: { cuda?: boolean; trace?: string } = {}): Profile {
  let seconds = 0;
  let returned: unknown;
  const out = native().profiler_run(Boolean(options.cuda), () => {
    const t0 = process.hrtime.bigint();
    returned = fn();
    synchronize(); // every kernel fn queued has run before the profiler stops
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  }, options.trace);
  // An async fn's work after its first await ran after the profiler stopped: its profile would be empty, not slow.
  if (isThenable(returned)) {
    returned.then(undefined, () => undefined);
    throw new InvalidArgumentError('profile() takes a synchronous function, but this one returned a Promise: what it does after its first await is not profiled. Profile the synchronous parts.');
  }
  return { events: out.events, seconds, ...(out.traceError ? { traceError: out.traceError } : {}) };
}

/** A line of a profile table: microseconds summed over the events of one name. */
export interface TimeRow {
  name: string;
  calls: number;
  micros: number;
}

const BACKWARD_PREFIX = 'autograd::engine::evaluate_function: ';

/**
 * The host events, each with the op it ran inside: a runtime call, the op
 * that made it; an op, the innermost op around it on its thread.
 */
function nest(events: ProfileEvent[]): Map<ProfileEvent, ProfileEvent | null> {
  const parent = new Map<ProfileEvent, ProfileEvent | null>();
  const ops = events.filter((e) => e.kind === 'op');
  const byId = new Map(ops.map((e) => [e.id, e]));
  for (const e of events) if (e.kind === 'other') parent.set(e, byId.get(e.linkedId) ?? null);
  const threads = new Map<number, ProfileEvent[]>();
  for (const e of ops) (threads.get(e.thread) ?? threads.set(e.thread, []).get(e.thread)!).push(e);
  for (const list of threads.values()) {
    // Outer events first: earlier start, then the longer of two that start together.
    list.sort((a, b) => a.start - b.start || b.duration - a.duration);
    const open: ProfileEvent[] = [];
    // On one thread an op ran inside every open op that had not ended when it
    // started. Not "ends by the time the open one ends": LibTorch 1.13 rounds
    // start and duration down to whole microseconds each, so a child can end
    // a microsecond after its parent. Made a sibling, it was counted twice
    // (self times summing to more than the thread's busy time).
    for (const e of list) {
      const ended = open.findIndex((o) => o.start + o.duration <= e.start);
      if (ended >= 0) open.length = ended;
      parent.set(e, open.length ? open[open.length - 1] : null);
      open.push(e);
    }
  }
  return parent;
}

/** The top-level event a host event ran inside, named for a reader: `ConvolutionBackward0` for an autograd node. */
function partOf(e: ProfileEvent, parent: Map<ProfileEvent, ProfileEvent | null>): string {
  let top = e;
  for (let p = parent.get(e); p; p = parent.get(p)) top = p;
  return top.name.startsWith(BACKWARD_PREFIX) ? top.name.slice(BACKWARD_PREFIX.length) : top.name;
}

function add(rows: Map<string, TimeRow>, name: string, micros: number, calls = 1): void {
  const row = rows.get(name) ?? rows.set(name, { name, calls: 0, micros: 0 }).get(name)!;
  row.calls += calls;
  row.micros += micros;
}

function sorted(rows: Map<string, TimeRow>, steps: number): TimeRow[] {
  return [...rows.values()].map((r) => ({ name: r.name, calls: r.calls / steps, micros: r.micros / steps })).sort((a, b) => b.micros - a.micros);
}

export interface ProfileSummary {
  /** 'host': CPU self time; 'device': GPU time. */
  clock: 'host' | 'device';
  /**
   * Per step: time by top-level op, by innermost op, and (device) by kernel.
   * calls, per step too: how often the op ran (host) or how many kernels it launched (device).
   */
  byPart: TimeRow[];
  byOp: TimeRow[];
  byKernel: TimeRow[];
  /** Per step, microseconds: the total of the table (host or device time). */
  total: number;
  /** Per step, microseconds in which the GPU ran at least one kernel or copy (device clock only). */
  deviceBusy: number;
}

/**
 * Sums a profile of `steps` equal steps per step. clock 'device' counts GPU
 * time (a CUDA profile), 'host' the host ops' self time.
 */
export function summarizeProfile(events: ProfileEvent[], steps: number, clock: 'host' | 'device'): ProfileSummary {
  if (!Number.isInteger(steps) || steps < 1) throw new InvalidArgumentError(`steps must be a whole number >= 1, got ${steps}`);
  const parent = nest(events);
  const byPart = new Map<string, TimeRow>();
  const byOp = new Map<string, TimeRow>();
  const byKernel = new Map<string, TimeRow>();
  let total = 0;
  if (clock === 'host') {
    const childTime = new Map<ProfileEvent, number>();
    for (const [e, p] of parent) if (p) childTime.set(p, (childTime.get(p) ?? 0) + e.duration);
    for (const e of parent.keys()) {
      const self = Math.max(0, e.duration - (childTime.get(e) ?? 0));
      add(byPart, partOf(e, parent), self, parent.get(e) ? 0 : 1);
      add(byOp, e.name, self);
      total += self;
    }
  } else {
    const ops = new Map(events.filter((e) => e.kind === 'op').map((e) => [e.id, e]));
    for (const e of events) {
      if (e.kind !== 'gpu') continue;
      const op = ops.get(e.linkedId);
      add(byPart, op ? partOf(op, parent) : '(no op: a CUDA graph replay, or a copy)', e.duration);
      add(byOp, op ? op.name : '(no op)', e.duration);
      add(byKernel, e.name, e.duration);
      total += e.duration;
    }
  }
  return { clock, byPart: sorted(byPart, steps), byOp: sorted(byOp, steps), byKernel: sorted(byKernel, steps), total: total / steps, deviceBusy: busy(events) / steps };
}

/** Microseconds covered by at least one GPU event (overlapping kernels counted once). */
function busy(events: ProfileEvent[]): number {
  return coveredMicros(events.filter((e) => e.kind === 'gpu'));
}

/** Microseconds covered by at least one of the events (overlaps counted once). */
export function coveredMicros(events: ProfileEvent[]): number {
  const spans = events.map((e) => [e.start, e.start + e.duration]).sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = -Infinity;
  for (const [s, t] of spans) {
    if (t <= end) continue;
    covered += t - Math.max(s, end);
    end = t;
  }
  return covered;
}
