// The esbuild settings of every Flowline Lambda bundle: used by the CDK NodejsFunction (lib/flowline-function.ts)
// and by local mode's own bundler (local/bundle.ts), so what runs locally is what is deployed. No CDK imports.
export const LAMBDA_BUNDLE_SETTINGS = {
  format: 'esm',
  outFileName: 'index.mjs',
  target: 'node22',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // The runtime provides the AWS SDK; chDB is local mode's engine and must never reach a Lambda.
  external: ['@aws-sdk/*', 'chdb'],
  mainFields: ['module', 'main'],
  // CommonJS dependencies (e.g. @clickhouse/client) call require() on Node built-ins inside an ESM bundle.
  banner:
    "import { createRequire as __flowlineCreateRequire } from 'node:module'; const require = __flowlineCreateRequire(import.meta.url);",
} as const;
