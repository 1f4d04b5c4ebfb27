/** The console lines `allcnn train` prints from trainModel's progress events. */
import { PassThrough } from 'node:stream';
import { consoleProgress } from '../lib/cli/progress';
import { resolveConfig } from '../lib/train/config';

function printed(events: Parameters<ReturnType<typeof consoleProgress>>[0][]): string {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  const show = consoleProgress({ stream: stream as unknown as NodeJS.WriteStream });
  events.forEach(show);
  return text;
}

const start = { type: 'start' as const, config: resolveConfig({ model: 'strided-cnn-a', limit: 256 }), parameters: 839242, trainImages: 256, startEpoch: 0, absentClasses: [] };

test('a slow first ZCA fit is explained: on all the training images, whatever --limit, and cached', () => {
  const text = printed([{ ...start, data: { seconds: 48.2, zcaCached: false, zcaSaved: true, fittedOn: 49000 } }]);
  expect(text).toMatch(/^data prepared in 48 s: ZCA was fitted on all 49,000 training images of the split \(whatever --limit\), and is cached for the next run \(in .+zca\)$/m);
  // A cache that could not be written (its warning says why) is not said to be there.
  const unsaved = printed([{ ...start, data: { seconds: 48.2, zcaCached: false, zcaSaved: false, fittedOn: 49000 } }]);
  expect(unsaved).toMatch(/^data prepared in 48 s: ZCA was fitted on all 49,000 training images of the split \(whatever --limit\)$/m);
});

test('a cached or quick preparation, or one made by the caller, prints nothing about it', () => {
  for (const data of [{ seconds: 1.5, zcaCached: true, fittedOn: 49000 }, { seconds: 2, zcaCached: false, fittedOn: 450 }, undefined]) {
    expect(printed([{ ...start, data }])).not.toContain('data prepared');
  }
});
