#!/usr/bin/env node
// Entry point of the `flowline` command: runs the TypeScript CLI through tsx, no build step needed.
//
// Flowline needs Node 22 (package.json engines, .nvmrc; the Lambda runtime and the collector image are 22).
// `npm ci` installs one into node_modules (the `node` devDependency), and npm scripts put it first on PATH.
// Started directly by an older Node (`node bin/flowline.js` with Node 20), this re-runs itself on that
// Node 22; without it, it says so in one line and goes on, with the AWS SDK's Node-version notice silenced.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);

if (major < REQUIRED_MAJOR) {
  const projectNode = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (existsSync(projectNode) && process.env.FLOWLINE_NODE_REEXEC !== '1') {
    const child = spawn(projectNode, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, FLOWLINE_NODE_REEXEC: '1' },
    });
    // Ctrl-C reaches the child through the terminal's process group; a signal sent to this pid is passed on.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(signal, () => {
        if (signal !== 'SIGINT') child.kill(signal);
      });
    }
    child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === 'SIGINT' ? 2 : 15)));
  } else {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    process.stderr.write(
      `flowline: running on Node ${process.version}; Flowline needs Node ${REQUIRED_MAJOR} (run \`npm ci\`, which installs it, or use .nvmrc)\n`,
    );
    await run();
  }
} else {
  await run();
}

async function run() {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch (error) {
    // Without node_modules (a clone before `npm ci`) there is no tsx: say so in one line, not a stack trace.
    const missing = error && error.code === 'ERR_MODULE_NOT_FOUND';
    const root = fileURLToPath(new URL('..', import.meta.url));
    process.stderr.write(
      missing
        ? `flowline: dependencies are not installed; run \`npm ci\` in ${root}\n`
        : `flowline: cannot load the TypeScript loader: ${error?.message ?? error}\n`,
    );
    process.exit(2);
  }
  register();
  await import('../cli/main.ts');
}
