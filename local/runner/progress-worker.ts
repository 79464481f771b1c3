// Worker thread of startupProgressOffThread() (progress.ts): prints the progress lines with writeSync on
// stderr's file descriptor, so they appear even while the main thread is busy. Loaded by Node's own type
// stripping (Node 22), hence only erasable TypeScript and a relative .ts import.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { progressCore } from './progress.ts';

type Message =
  | { op: 'step'; text: string }
  | { op: 'begin'; id: number; name: string }
  | { op: 'end'; id: number }
  | { op: 'printed' }
  | { op: 'stop' };

const core = progressCore((text) => writeSync(2, text), {
  clock: Date.now,
  startedAt: (workerData as { startedAt: number }).startedAt,
});

parentPort?.on('message', (message: Message) => {
  if (message.op === 'step') core.step(message.text);
  else if (message.op === 'begin') core.begin(message.id, message.name);
  else if (message.op === 'end') core.end(message.id);
  else if (message.op === 'printed') core.printed();
  else {
    core.stop();
    parentPort?.close();
  }
});
