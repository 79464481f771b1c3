// The functions local mode runs, always as esbuild output (local/bundle.ts, the stack's settings):
// - live mode: the deployed entries, functions/<name>/handler.ts, exactly as Lambda loads them;
// - event-time runs: event-time-functions.ts, the same wiring with the clock as a parameter.
// Each function's environment must be in process.env before its bundle is loaded (module-scope config).
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, bundleFunction, loadBundledHandler } from '../bundle.ts';
import type { LambdaHandler } from '../esm/invoker.ts';
import { type LocalTopology, tickerOwnEnvironment } from './template.ts';

export type EventTimeFunctions = typeof import('./event-time-functions.ts');

export interface LiveHandlers {
  correlator: LambdaHandler;
  /** One per ticker function of the template, in TICKER_INDEX order. */
  tickers: LambdaHandler[];
  exporter: LambdaHandler;
  bundleMs: number;
}

/** The deployed entries' bundles: made as soon as the template names them, loaded once the engines are up. */
export interface LiveBundles {
  correlator: string;
  ticker: string;
  exporter: string;
  bundleMs: number;
}

/** Bundles the deployed correlator, ticker and exporter entries named in the template (esbuild). */
export async function bundleLiveFunctions(topology: LocalTopology): Promise<LiveBundles> {
  const started = performance.now();
  const [correlator, ticker, exporter] = await Promise.all([
    bundleFunction('correlator', topology.correlator.entry),
    bundleFunction('ticker', topology.tickers[0].entry),
    bundleFunction('exporter', topology.exporter.entry),
  ]);
  return {
    correlator: correlator.outFile,
    ticker: ticker.outFile,
    exporter: exporter.outFile,
    bundleMs: performance.now() - started,
  };
}

/**
 * Loads the bundles, with every function's environment already in process.env. The ticker bundle is loaded
 * once per ticker function, each a module instance of its own (its own clients and config, as its own
 * Lambda function has) read with that ticker's TICKER_INDEX in process.env.
 */
export async function loadLiveHandlers(bundles: LiveBundles, topology: LocalTopology): Promise<LiveHandlers> {
  const tickers: LambdaHandler[] = [];
  for (let index = 0; index < topology.tickers.length; index++) {
    Object.assign(process.env, tickerOwnEnvironment(topology, index));
    tickers.push(await loadBundledHandler(bundles.ticker));
  }
  delete process.env.TICKER_INDEX; // read at module scope: each instance has its own by now
  return {
    correlator: await loadBundledHandler(bundles.correlator),
    tickers,
    exporter: await loadBundledHandler(bundles.exporter),
    bundleMs: bundles.bundleMs,
  };
}

let eventTimeBundle: Promise<string> | undefined;

/**
 * Bundles event-time-functions.ts once per process (into a folder of its own, so parallel test processes
 * never overwrite each other's output; removed at exit) and loads a fresh module instance.
 */
export async function loadEventTimeFunctions(): Promise<EventTimeFunctions> {
  eventTimeBundle ??= (async () => {
    removeBundlesOfDeadProcesses();
    const outRoot = join(BUILD_DIR, `event-time-${process.pid}`);
    process.once('exit', () => rmSync(outRoot, { recursive: true, force: true }));
    const bundled = await bundleFunction('functions', 'local/runner/event-time-functions.ts', { outRoot });
    return bundled.outFile;
  })();
  const outFile = await eventTimeBundle;
  const url = `${new URL(`file://${outFile}`).href}?instance=${Date.now()}-${Math.random().toString(36).slice(2)}`;
  return (await import(/* @vite-ignore */ url)) as EventTimeFunctions;
}

/** Test workers are often killed rather than exited: their bundle folders are removed by the next run. */
function removeBundlesOfDeadProcesses(): void {
  let names: string[];
  try {
    names = readdirSync(BUILD_DIR);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^event-time-(\d+)$/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
        rmSync(join(BUILD_DIR, name), { recursive: true, force: true });
      }
    }
  }
}
