import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowlineFunction } from '../../../lib/flowline-function.ts';
import { bundleFunction, loadBundledHandler } from '../../../local/bundle.ts';
import { InProcessFunctionInvoker } from '../../../local/esm/invoker.ts';

const ENTRY = 'test/unit/esm/fixtures/echo-handler.ts';

describe('local bundle', () => {
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'flowline-bundle-'));
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('is byte-identical to the asset the CDK NodejsFunction synthesizes', async () => {
    const ours = await bundleFunction('echo', ENTRY, { outRoot: join(workDir, 'build') });

    const outdir = join(workDir, 'cdk.out');
    const app = new App({ outdir });
    const stack = new Stack(app, 'BundleParity');
    new FlowlineFunction(stack, 'Echo', {
      entry: ENTRY,
      description: 'bundle parity',
      memorySize: 128,
      timeout: Duration.seconds(3),
      environment: {},
      logRetentionDays: 7,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    app.synth();
    const assets = (await readdir(outdir)).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const cdkBundle = await readFile(join(outdir, assets[0] as string, 'index.mjs'), 'utf8');
    expect(await readFile(ours.outFile, 'utf8')).toBe(cdkBundle);
    expect(cdkBundle).toContain('from"@aws-sdk/client-kinesis"'); // external, not bundled
  });

  it('loads the bundle and runs its handler with a Lambda context', async () => {
    const bundled = await bundleFunction('echo', ENTRY, { outRoot: join(workDir, 'build') });
    process.env.ECHO_HANDLER_MARK = 'first';
    const first = await loadBundledHandler(bundled.outFile);
    process.env.ECHO_HANDLER_MARK = 'second';
    const second = await loadBundledHandler(bundled.outFile);
    delete process.env.ECHO_HANDLER_MARK;

    const invoke = (handler: typeof first) =>
      new InProcessFunctionInvoker({
        handler,
        functionName: 'echo',
        region: 'us-east-1',
        accountId: '000000000000',
      }).invoke({
        Records: [{}, {}],
      });
    expect(await invoke(first)).toEqual({
      ok: true,
      payload: {
        functionName: 'echo',
        records: 2,
        firstAddress: '2001:db8::1',
        sdkLoaded: true,
        bundleEnv: 'first',
      },
    });
    // A fresh load is a fresh module instance: module scope sees the environment of its own load.
    expect(await invoke(second)).toMatchObject({ ok: true, payload: { bundleEnv: 'second' } });
  });
});
