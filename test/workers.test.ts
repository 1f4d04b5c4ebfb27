/**
 * Worker threads: each JS thread loads the addon apart, with classes of its
 * own. Tensors, networks and generators made in one thread must not break
 * another's (the classes used to be kept once per process: a worker's load
 * made the main thread's next network or generator abort the process).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDirs } from './tmp';

const LIB = path.resolve(__dirname, '../lib/index.js');
const tmp = tempDirs('workers');

// Two workers train and draw while the main thread does the same; then, with
// the workers gone, the main thread goes on with what it made before them.
const SCRIPT = `
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const A = require(${JSON.stringify(LIB)});
const work = async (seed) => {
  const g = new A.Generator(seed);
  const drawn = A.rand([3], { generator: g }).toArray();
  const net = A.buildNetwork(A.MODELS['strided-cnn-a'], { seed });
  const r = await A.trainModel({ model: 'strided-cnn-a', epochs: 1, batchSize: 32, limit: 64, testLimit: 32, validation: 32, prep: 'std', stallEpochs: 0, seed });
  net.dispose();
  return { drawn, loss: r.history[0].loss };
};
if (isMainThread) {
  (async () => {
    const before = new A.Generator(5);
    const alone = await work(1);
    const workers = [1, 2].map((seed) => new Promise((resolve, reject) => {
      const w = new Worker(__filename, { workerData: seed });
      w.on('message', resolve);
      w.on('error', reject);
    }));
    const [inMain, ...inWorkers] = await Promise.all([work(1), ...workers]);
    await new Promise((r) => setTimeout(r, 100)); // the workers have exited
    const after = await work(1);
    A.rand([1], { generator: before });
    console.log(JSON.stringify({ alone, inMain, inWorkers, after }));
  })().catch((e) => { console.error(e); process.exit(1); });
} else {
  work(workerData).then((r) => parentPort.postMessage(r));
}
`;

test('the main thread and two workers use the addon at once, and the main thread goes on after them', () => {
  const script = path.join(tmp(), 'workers.js');
  fs.writeFileSync(script, SCRIPT);
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 120000, env: { ...process.env, ALLCNN_DATA: tmp() } });
  expect({ status: r.status, signal: r.signal, stderr: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ status: 0, signal: null, stderr: '' });
  const { alone, inMain, inWorkers, after } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  // A run's numbers do not depend on the thread it runs in, nor on what runs beside it.
  expect(inMain).toEqual(alone);
  expect(inWorkers[0]).toEqual(alone);
  expect(after).toEqual(alone);
  expect(inWorkers[1]).not.toEqual(alone);
});

// Workers terminated while they call into the addon: an error raised as the
// worker's environment goes away cannot reach JavaScript. It used to be
// thrown again from node-addon-api's catch handler, and std::terminate ended
// the whole process ("terminate called after throwing an instance of
// 'Napi::Error'", exit 134), main thread included.
const TERMINATE = `
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const A = require(${JSON.stringify(LIB)});
if (isMainThread) {
  (async () => {
    for (let k = 0; k < 6; k++) {
      const w = new Worker(__filename, { workerData: k });
      await new Promise((resolve) => w.once('message', resolve));
      await new Promise((r) => setTimeout(r, k * 3));
      await w.terminate();
    }
    const t = A.ones([2]).add(1);
    console.log(JSON.stringify(t.toArray()));
  })().catch((e) => { console.error(e); process.exit(1); });
} else if (workerData % 2) {
  // an evaluation in flight on the addon's own thread
  const net = A.buildNetwork(A.MODELS['a']);
  A.evaluate(net, { x: A.randn([300, 3, 32, 32]), y: A.zeros([300], { dtype: 'int64' }) });
  parentPort.postMessage('started');
} else {
  parentPort.postMessage('started');
  const net = A.buildNetwork(A.MODELS['a']);
  for (;;) {
    const a = A.ones([64]);
    const b = a.add(1);
    a.dispose();
    b.dispose();
    A.noGrad(() => net.forward(A.randn([2, 3, 32, 32]), false)).dispose();
  }
}
`;

test('terminating workers while they run ops leaves the main thread running', () => {
  const script = path.join(tmp(), 'terminate.js');
  fs.writeFileSync(script, TERMINATE);
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 120000 });
  expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(-2000) }).toEqual({ status: 0, signal: null, stderr: '' });
  expect(r.stdout.trim()).toBe('[2,2]');
});
