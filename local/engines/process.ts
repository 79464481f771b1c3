// Child processes for the local engines: own process group, a watchdog that kills the group when this
// process disappears (even by SIGKILL), and cleanup on exit / SIGINT / SIGTERM, so no engine outlives us.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { LOOPBACK } from './ports.ts';

export interface EngineProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last lines the engine printed (stdout and stderr), for error messages. */
  recentOutput(): string;
  /** Resolves when the process has exited (immediately if it already has). */
  exited(): Promise<void>;
  /** SIGTERM to the whole group, SIGKILL after the grace period; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface RunningEngine {
  readonly name: string;
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Wall time from spawn to the first successful real request. */
  readonly startupMs: number;
  stop(): Promise<void>;
}

export interface SpawnEngineOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also copy the engine's output to this process's stderr. */
  echoOutput?: boolean;
  /** A temporary folder to delete if this process ends without stopping the engine. */
  removeWhenOrphaned?: string;
}

const live = new Map<EngineProcess, string | undefined>();
let cleanupInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function killAllNow(): void {
  for (const [engine, removeWhenOrphaned] of live) {
    killGroup(engine.pid, 'SIGKILL');
    if (removeWhenOrphaned) rmSync(removeWhenOrphaned, { recursive: true, force: true });
  }
  live.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  // Another handler (e.g. the CLI) owns this signal and stops the engines gracefully; the exit hook and
  // the watchdogs remain as the safety net.
  if (process.listenerCount(signal) > 1) return;
  killAllNow();
  process.removeListener(signal, onFatalSignal);
  // Nobody else handles this signal: re-raise it so the default behaviour (exit) still happens.
  process.kill(process.pid, signal);
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllNow);
  process.on('SIGINT', onFatalSignal);
  process.on('SIGTERM', onFatalSignal);
  process.on('SIGHUP', onFatalSignal);
}

// A shell loop outside our process tree: when this process is gone (killed without running any handler),
// it terminates the engine's process group. It ends by itself when the engine exits first.
function startWatchdog(enginePid: number, removeWhenOrphaned: string | undefined): ChildProcess {
  const alive = (pid: number) => `kill -0 ${pid} 2>/dev/null`;
  const cleanup = removeWhenOrphaned ? `rm -rf '${removeWhenOrphaned.replace(/'/g, `'\\''`)}'` : ':';
  const script = [
    `while ${alive(process.pid)} && ${alive(enginePid)}; do sleep 0.5; done`,
    `if ! ${alive(process.pid)}; then`,
    `  kill -TERM -${enginePid} 2>/dev/null`,
    `  for i in 1 2 3 4 5 6; do ${alive(enginePid)} || break; sleep 0.5; done`,
    `  kill -KILL -${enginePid} 2>/dev/null`,
    `  ${cleanup}`,
    'fi',
  ].join('\n');
  const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

export function spawnEngine(options: SpawnEngineOptions): EngineProcess {
  installCleanup();
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true, // own process group, so one signal reaches the engine and anything it forks
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (e.g. ENOENT); the 'error' event carries the reason.
    const failure = once(child, 'error').then(([error]) => {
      throw new Error(`${options.name}: could not start ${options.command}: ${(error as Error).message}`);
    });
    return failedProcess(options.name, child, failure);
  }
  const pid = child.pid;
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    if (options.echoOutput) process.stderr.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (lines.length > 15) lines.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exitPromise = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const watchdog = startWatchdog(pid, options.removeWhenOrphaned);
  const engine: EngineProcess = {
    name: options.name,
    pid,
    child,
    recentOutput: () => lines.join('\n'),
    exited: () => exitPromise,
    async stop(graceMs = 3000) {
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        await exitPromise;
        clearTimeout(timer);
      }
      killGroup(pid, 'SIGKILL'); // anything the engine forked and left behind
      live.delete(engine);
      watchdog.kill('SIGKILL');
    },
  };
  live.set(engine, options.removeWhenOrphaned);
  void exitPromise.then(() => live.delete(engine));
  return engine;
}

function failedProcess(name: string, child: ChildProcess, failure: Promise<never>): EngineProcess {
  const settled = failure.catch(() => undefined);
  return {
    name,
    pid: -1,
    child,
    recentOutput: () => '',
    exited: () => failure,
    stop: async () => {
      await settled;
    },
  };
}

/**
 * Polls `probe` until it returns true, the engine exits, or the deadline passes. An engine that never
 * became ready is stopped, so a failed start leaves no process behind; errors name the engine and carry
 * its last output lines.
 */
export async function waitUntilReady(
  engine: EngineProcess,
  probe: () => Promise<boolean>,
  options: { timeoutMs?: number; what: string },
): Promise<void> {
  try {
    await pollUntilReady(engine, probe, options);
  } catch (error) {
    await engine.stop();
    throw error;
  }
}

/**
 * Waits until an HTTP engine answers its probe at http://127.0.0.1:<port>, then describes it as running.
 * `startedAt` is the performance.now() before the spawn, for the start-up time.
 */
export async function runningHttpEngine(
  engine: EngineProcess,
  options: {
    port: number;
    startedAt: number;
    probe: (endpoint: string) => Promise<boolean>;
    what: string;
    timeoutMs?: number;
  },
): Promise<RunningEngine> {
  const endpoint = `http://${LOOPBACK}:${options.port}`;
  await waitUntilReady(engine, () => options.probe(endpoint), {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    what: options.what,
  });
  return {
    name: engine.name,
    endpoint,
    port: options.port,
    pid: engine.pid,
    startupMs: performance.now() - options.startedAt,
    stop: () => engine.stop(),
  };
}

/** The start-up limit per engine on an idle machine: FLOWLINE_ENGINE_START_TIMEOUT_SECONDS, else 90 s. */
export function engineStartTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.FLOWLINE_ENGINE_START_TIMEOUT_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 90_000;
}

/**
 * How much longer than on an idle machine a start may take now: the 1-minute load average per core,
 * between 1 and 4. A JVM start on two busy cores takes several times its idle time; a hung one still ends.
 */
export function loadFactor(load: number = loadavg()[0] ?? 0, cores: number = availableParallelism()): number {
  return Math.min(4, Math.max(1, load / Math.max(1, cores)));
}

async function pollUntilReady(
  engine: EngineProcess,
  probe: () => Promise<boolean>,
  options: { timeoutMs?: number; what: string },
): Promise<void> {
  const started = performance.now();
  const baseMs = options.timeoutMs ?? engineStartTimeoutMs();
  // Re-evaluated while waiting: the limit follows the machine's load (adaptive, capped at 4x the base).
  let limitMs = baseMs * loadFactor();
  let exited = false;
  let exitError: unknown;
  void engine.exited().then(
    () => {
      exited = true;
    },
    (error: unknown) => {
      exited = true;
      exitError = error;
    },
  );
  let lastError: unknown;
  let delayMs = 20;
  while (performance.now() - started < limitMs) {
    if (exited) {
      if (exitError) throw exitError;
      const { exitCode, signalCode } = engine.child;
      const lastLine = engine.recentOutput().split('\n').at(-1) || 'no output';
      throw new EngineStartError(
        `${engine.name} exited before it was ready (exit code ${exitCode ?? signalCode}: ${lastLine}); see all of its output with \`flowline engines --logs\`. Its last output:\n${engine.recentOutput()}`,
        engine.recentOutput(),
      );
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 200);
    limitMs = Math.max(limitMs, baseMs * loadFactor());
  }
  const waited = ((performance.now() - started) / 1000).toFixed(0);
  const load = (loadavg()[0] ?? 0).toFixed(1);
  throw new EngineStartError(
    `${engine.name} was not ready after ${waited} s (${options.what} kept failing: ${String(lastError)}; load average ${load} on ${availableParallelism()} cores): ` +
      `on a busy machine allow more time with FLOWLINE_ENGINE_START_TIMEOUT_SECONDS=${(baseMs / 500).toFixed(0)}, ` +
      `otherwise see the engine's own output with \`flowline engines --logs\`. Its last output:\n${engine.recentOutput()}`,
    engine.recentOutput(),
  );
}

export class EngineStartError extends Error {
  /** True when the engine failed because its port was taken between our check and its bind. */
  readonly portWasTaken: boolean;

  constructor(message: string, output: string) {
    super(message);
    this.name = 'EngineStartError';
    this.portWasTaken = /address already in use|BindException|EADDRINUSE/i.test(output);
  }
}
