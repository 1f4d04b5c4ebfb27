/** `allcnn models`: the twelve networks with their parameter counts. */
import { Command } from 'commander';
import { countParameters, formatLayer, inferShapes, layerNames } from '../model/spec';
import { int } from './options';
import { MODELS } from '../../models';

export function modelsCommand(): Command {
  return new Command('models')
    .description('list the 12 networks of the paper with their parameter counts')
    .option('--classes <n>', 'number of classes', int('--classes', 2, 100000), 10)
    .option('--json', 'print JSON', false)
    .option('--layers', 'print each network\'s layers with their names (conv1, maxpool1, ...), as the paper\'s tables write them, and their output shapes', false)
    .action((o) => {
      const rows = Object.entries(MODELS).map(([id, spec]) => ({ id, name: spec.name, parameters: countParameters(spec, { classes: o.classes }), description: spec.description }));
      if (o.json) {
        // With --layers, each layer as the text line, its name and its output shape, as the table prints them.
        const layersOf = (id: string) => {
          const spec = MODELS[id];
          const [names, shapes] = [layerNames(spec), inferShapes(spec, { classes: o.classes })];
          return spec.layers.map((l, i) => ({ name: names[i], layer: formatLayer(l) ?? l, output: shapes[i] }));
        };
        console.log(JSON.stringify(o.layers ? rows.map((r) => ({ ...r, layers: layersOf(r.id) })) : rows, null, 2));
        return;
      }
      console.log(`${'id'.padEnd(16)} ${'name'.padEnd(16)} ${'parameters'.padStart(10)}  description`);
      for (const r of rows) {
        console.log(`${r.id.padEnd(16)} ${r.name.padEnd(16)} ${r.parameters.toLocaleString('en-US').padStart(10)}  ${r.description}`);
        if (o.layers) {
          // As the paper's tables write them, with each layer's output for one image.
          const spec = MODELS[r.id];
          const names = layerNames(spec);
          const shapes = inferShapes(spec, { classes: o.classes });
          spec.layers.forEach((l, i) => console.log(`${''.padEnd(35)}${names[i].padEnd(10)} ${(formatLayer(l) ?? JSON.stringify(l)).padEnd(28)} -> ${shapes[i].join('x')}`));
        }
      }
    });
}
