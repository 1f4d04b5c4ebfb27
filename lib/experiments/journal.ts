/**
 * runs.jsonl: the append-only log of finished runs. A line is appended (and
 * fsynced) only when a run has finished, so a kill at any moment loses at
 * most the run in progress, which resumes from its own checkpoint. A torn
 * last line (a kill mid-append) is ignored and overwritten cleanly.
 */
import * as fs from 'node:fs';
import type { RunRecord } from './types';

export function readJournal(file: string): RunRecord[] {
  if (!fs.existsSync(file)) return [];
  const out: RunRecord[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a torn line from an interrupted append: the run will simply be redone
    }
  }
  return out;
}

export function appendJournal(file: string, record: RunRecord): void {
  // Start on a fresh line if a previous append was torn.
  const needsNewline = fs.existsSync(file) && fs.statSync(file).size > 0 && !fs.readFileSync(file, 'utf8').endsWith('\n');
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, `${needsNewline ? '\n' : ''}${JSON.stringify(record)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
