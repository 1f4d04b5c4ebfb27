/** `allcnn compare`: runs of `allcnn train` side by side with the paper's Table 3. */
import * as path from 'node:path';
import { Command } from 'commander';
import { compareRuns, readRunResult, renderComparison } from '../report/compare';
import { argumentPaths } from './options';
import { shown } from './util';

export function compareCommand(): Command {
  return new Command('compare')
    .description("put finished `allcnn train` runs side by side with the paper's Table 3 and check its claims on them (a network's runs with several --seed values, by their mean)")
    .argument('<runs...>', 'the --out folders of `allcnn train` runs (or their result.json files)', argumentPaths('a run folder or its result.json'))
    .option('--json', 'print the comparison as JSON on stdout (accuracies in percent, as in the table; result.json keeps fractions)', false)
    .action((targets: string[], o) => {
      const files = targets.map(resultFile);
      const twice = targets.find((_, i) => files.indexOf(files[i]) !== i);
      if (twice !== undefined) throw Object.assign(new Error(`${twice} is given twice: each run is a row of its own`), { exitCode: 2 });
      const runs = targets.map((t) => ({ label: label(t, files), result: readRunResult(t) }));
      const comparison = compareRuns(runs);
      console.log(o.json ? JSON.stringify(comparison, null, 2) : renderComparison(comparison));
    });
}

/** The result.json a target names: the file itself or the one in its folder. */
function resultFile(target: string): string {
  const p = path.resolve(target);
  return path.basename(p) === 'result.json' ? p : path.join(p, 'result.json');
}

/** A run's name in the table: its folder ('results/cpu-a' -> 'cpu-a'), or its path where two folders share a name. */
function label(target: string, files: readonly string[]): string {
  const folder = path.dirname(resultFile(target));
  const clash = files.filter((f) => path.basename(path.dirname(f)) === path.basename(folder)).length > 1;
  return clash ? shown(folder) : path.basename(folder);
}
