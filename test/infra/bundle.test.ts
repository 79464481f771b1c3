// The one real build: bin/app.ts synthesized as `cdk synth` runs it, every function bundled by the local
// esbuild (no Docker), cdk-nag on. Checks what ships: small, minified, source-mapped, Powertools inside,
// no AWS SDK (the Node 22 runtime provides it) and never chdb.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { transformSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORRELATOR_ENTRY } from '../../lib/correlator.ts';
import { EXPORTER_ENTRY } from '../../lib/exporter.ts';
import { PROJECT_ROOT } from '../../lib/flowline-function.ts';
import { TICKER_ENTRY } from '../../lib/ticker.ts';

const run = promisify(execFile);
const MAX_BUNDLE_BYTES = 1024 * 1024;

interface Bundle {
  entry: string;
  dir: string;
  code: string;
  bytes: number;
  sources: string[];
}

let outdir: string;
const bundles: Bundle[] = [];

beforeAll(async () => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowline-synth-'));
  const started = performance.now();
  await run(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({
        clickHouseUrl: 'https://ch.example.com:8443',
        clusterUuid: '0b8d5f3e-3c57-4b7a-9a7e-2f6f1c0d9e11',
      }),
    },
    timeout: 240_000,
  });
  const template = JSON.parse(fs.readFileSync(path.join(outdir, 'Flowline.template.json'), 'utf8'));
  const assets = JSON.parse(fs.readFileSync(path.join(outdir, 'Flowline.assets.json'), 'utf8'));
  type FunctionResource = {
    Type: string;
    Metadata: Record<string, string>;
    Properties: { Code: { S3Key: string } };
  };
  for (const resource of Object.values(template.Resources) as FunctionResource[]) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const assetHash = resource.Properties.Code.S3Key.replace(/\.zip$/, '');
    const dir = path.join(outdir, assets.files[assetHash].source.path);
    const code = fs.readFileSync(path.join(dir, 'index.mjs'), 'utf8');
    const map = JSON.parse(fs.readFileSync(path.join(dir, 'index.mjs.map'), 'utf8'));
    bundles.push({
      entry: resource.Metadata['flowline:entry']!,
      dir,
      code,
      bytes: Buffer.byteLength(code),
      sources: map.sources,
    });
  }
  const summary = bundles.map((b) => `${b.entry} ${(b.bytes / 1024).toFixed(1)} KiB`).join(', ');
  console.log(
    `bin/app.ts synth with esbuild bundling: ${(performance.now() - started).toFixed(0)} ms; ${summary}`,
  );
}, 300_000);

afterAll(() => {
  if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
});

describe('cdk synth with real bundling', () => {
  it('bundles exactly the three handlers, and cdk-nag reports nothing', () => {
    expect(bundles.map((b) => b.entry).sort()).toEqual(
      [CORRELATOR_ENTRY, EXPORTER_ENTRY, TICKER_ENTRY].sort(),
    );
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations)).toEqual([]);
  });

  it('keeps each bundle under 1 MB, minified, with a source map of the TypeScript sources', () => {
    for (const b of bundles) {
      expect(b.bytes, b.entry).toBeLessThan(MAX_BUNDLE_BYTES);
      // Minified: minifying it again gains almost nothing (an unminified bundle shrinks by a third or more;
      // counting line breaks misleads, since the generated record codecs' source templates keep theirs).
      const again = transformSync(b.code, { minify: true, format: 'esm', loader: 'js' }).code.length;
      expect(again / b.bytes, `${b.entry} is minified`).toBeGreaterThan(0.95);
      expect(b.code).toContain('sourceMappingURL=index.mjs.map');
      expect(b.sources.some((src) => src.endsWith(b.entry))).toBe(true);
    }
  });

  it('bundles Powertools but imports the AWS SDK from the runtime, and never contains chdb', () => {
    for (const b of bundles) {
      expect(b.sources.some((src) => src.includes('node_modules/@aws-lambda-powertools/'))).toBe(true);
      expect(b.sources.filter((src) => src.includes('node_modules/@aws-sdk/'))).toEqual([]);
      expect(b.code).toMatch(/from\s*"@aws-sdk\/client-dynamodb"/);
      expect(b.sources.filter((src) => /node_modules\/chdb\//.test(src))).toEqual([]);
      expect(b.code).not.toMatch(/["']chdb["']/);
    }
  });

  it('loads as an ES module and exports handler (externals resolved as the runtime would)', async () => {
    // The runtime provides @aws-sdk/*; here the project's node_modules stands in for it.
    fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(outdir, 'node_modules'), 'dir');
    const env = {
      ...process.env,
      TABLE_NAME: 'flows',
      CLICKHOUSE_URL: 'http://127.0.0.1:1',
      CLICKHOUSE_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ch-AbCdEf',
      CLUSTER_UUID: '0b8d5f3e-3c57-4b7a-9a7e-2f6f1c0d9e11',
    };
    const probe = 'import(process.argv[1]).then((m) => console.log(typeof m.handler))';
    for (const b of bundles) {
      const { stdout } = await run(
        process.execPath,
        ['--input-type=module', '-e', probe, path.join(b.dir, 'index.mjs')],
        {
          env,
        },
      );
      expect(stdout.trim(), b.entry).toBe('function');
    }
  });
});
