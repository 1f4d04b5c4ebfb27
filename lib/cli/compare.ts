/** `allcnn compare`: runs of `allcnn train` side by side with the paper's Table 3. */
import * as path from 'node:path';
import { Command } from 'commander';
import { compareRuns, readRunResult, renderComparison } from '../report/compare';

export function compareCommand(): Command {
  return new Command('compare')
    .description("put finished `allcnn train` runs side by side with the paper's Table 3 and check its claims on them")
    .argument('<runs...>', 'the --out folders of `allcnn train` runs (or their result.json files)')
    .option('--json', 'print the comparison as JSON on stdout', false)
    .action((targets: string[], o) => {
      const runs = targets.map((t) => ({ label: label(t), result: readRunResult(t) }));
      const comparison = compareRuns(runs);
      console.log(o.json ? JSON.stringify(comparison, null, 2) : renderComparison(comparison));
    });
}

/** A run's name in the table: its folder ('results/cpu-a' -> 'cpu-a'). */
function label(target: string): string {
  const p = path.resolve(target);
  return path.basename(path.basename(p) === 'result.json' ? path.dirname(p) : p);
}
