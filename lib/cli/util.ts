/** Small helpers shared by the commands. */
import { writeFileAtomic } from '../report/atomic';

/** An AbortSignal that fires on the first Ctrl-C / SIGTERM (the second one exits at once). */
export function abortOnSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping after the current step (again to quit now)\n`);
    controller.abort();
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  return controller.signal;
}

/** JSON written to a temporary file and renamed, so readers never see half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
