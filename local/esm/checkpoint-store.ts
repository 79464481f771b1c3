// Where a mapping remembers, per shard, the last sequence number whose processing finished. Lambda keeps this
// durably; local mode keeps it in a file of the data folder so a restart resumes instead of replaying.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface CheckpointStore {
  load(shardId: string): Promise<string | undefined>;
  save(shardId: string, sequenceNumber: string): Promise<void>;
}

export class MemoryCheckpointStore implements CheckpointStore {
  readonly checkpoints = new Map<string, string>();

  async load(shardId: string): Promise<string | undefined> {
    return this.checkpoints.get(shardId);
  }

  async save(shardId: string, sequenceNumber: string): Promise<void> {
    this.checkpoints.set(shardId, sequenceNumber);
  }
}

/** One JSON object `{shardId: sequenceNumber}` per mapping, replaced atomically on every save. */
export class FileCheckpointStore implements CheckpointStore {
  readonly #path: string;
  #checkpoints: Record<string, string> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  async load(shardId: string): Promise<string | undefined> {
    return (await this.#all())[shardId];
  }

  async save(shardId: string, sequenceNumber: string): Promise<void> {
    const checkpoints = await this.#all();
    checkpoints[shardId] = sequenceNumber;
    const snapshot = JSON.stringify(checkpoints, null, 2);
    // Serialise writes so an older snapshot never renames over a newer one.
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.#path), { recursive: true });
      const temporary = `${this.#path}.${process.pid}.tmp`;
      await writeFile(temporary, snapshot);
      await rename(temporary, this.#path);
    });
    await this.#writing;
  }

  async #all(): Promise<Record<string, string>> {
    if (!this.#checkpoints) {
      try {
        this.#checkpoints = JSON.parse(await readFile(this.#path, 'utf8')) as Record<string, string>;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.#checkpoints = {};
      }
    }
    return this.#checkpoints;
  }
}
