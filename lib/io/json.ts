/** JSON files that allcnn reads back (experiment.json, result.json), with an error that names the file. */
import * as fs from 'node:fs';
import { DataError } from '../errors';

/** `file`, parsed; a DataError naming it when it does not parse, followed by `advice` (what to do then) when given. */
export function readJsonFile(file: string, advice?: string): unknown {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8 quotes the start of the text, line breaks included: keep the message on one line.
    throw new DataError(`${file}: not valid JSON (${(err as Error).message.replace(/\s+/g, ' ')})${advice ? `; ${advice}` : ''}`);
  }
}
