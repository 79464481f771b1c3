// Bundles a Lambda handler the way the stack's NodejsFunction does (lib/flowline-function.ts: local esbuild,
// ESM, node22, minified, source maps, AWS SDK external), into .flowline/build/<function>/index.mjs, and loads
// that bundle. Local mode and the tests run this output, so what is exercised is what would be deployed;
// test/unit/esm/bundle.test.ts checks the output is byte-identical to the asset CDK synthesizes.
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { LAMBDA_BUNDLE_SETTINGS } from '../lib/bundle-settings.ts';
import type { LambdaHandler } from './esm/invoker.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join(PROJECT_ROOT, '.flowline', 'build');

export interface BundledFunction {
  readonly name: string;
  readonly entry: string;
  readonly outFile: string;
  readonly bytes: number;
  readonly buildMs: number;
}

/** Bundles `entry` (a path relative to the project root, or absolute) into `<outRoot>/<name>/index.mjs`. */
export async function bundleFunction(
  name: string,
  entry: string,
  options: { outRoot?: string } = {},
): Promise<BundledFunction> {
  const settings = LAMBDA_BUNDLE_SETTINGS;
  const outDir = join(options.outRoot ?? BUILD_DIR, name);
  const outFile = join(outDir, settings.outFileName);
  const entryPath = resolve(PROJECT_ROOT, entry);
  await mkdir(outDir, { recursive: true });
  const started = performance.now();
  const result = await build({
    entryPoints: [entryPath],
    bundle: true,
    platform: 'node',
    format: settings.format,
    target: settings.target,
    outfile: outFile,
    minify: settings.minify,
    sourcemap: settings.sourcemap,
    sourcesContent: settings.sourcesContent,
    external: [...settings.external],
    mainFields: [...settings.mainFields],
    banner: { js: settings.banner },
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) {
    throw new Error(`bundling ${entry} failed: ${result.errors.map((error) => error.text).join('; ')}`);
  }
  const { size } = await stat(outFile);
  return { name, entry, outFile, bytes: size, buildMs: performance.now() - started };
}

/** Handler module of each function in functions/<name>/handler.ts. */
export function handlerEntry(functionName: string): string {
  return join('functions', functionName, 'handler.ts');
}

/**
 * Imports a bundle and returns its exported handler. Each call loads a fresh module instance (a new query
 * string), as a new Lambda execution environment would: module-scope clients read the environment again.
 */
export async function loadBundledHandler(outFile: string, exportName = 'handler'): Promise<LambdaHandler> {
  const url = `${pathToFileURL(outFile).href}?instance=${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const module = (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
  const handler = module[exportName];
  if (typeof handler !== 'function')
    throw new Error(`${outFile} does not export a function named ${exportName}`);
  return handler as LambdaHandler;
}
