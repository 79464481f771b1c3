#!/usr/bin/env node
// Entry point of the `flowline` command: runs the TypeScript CLI through tsx, no build step needed.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
