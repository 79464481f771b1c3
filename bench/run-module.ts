// Runs one benchmark module in this (fresh) process for bench/main.ts:
//   node --import tsx bench/run-module.ts <name> <quick> <previous rows file> <result rows file>
import { readFileSync, writeFileSync } from 'node:fs';
import { BENCH_MODULES } from './modules.ts';
import type { BenchRow } from './types.ts';

const [name, quick, previousFile, resultFile] = process.argv.slice(2) as [string, string, string, string];
const load = BENCH_MODULES[name];
if (!load) throw new Error(`no benchmark module "${name}"`);
const previous = JSON.parse(readFileSync(previousFile, 'utf8')) as BenchRow[];
const rows = await (await load()).run({ quick: quick === 'true', previous });
writeFileSync(resultFile, JSON.stringify(rows));
// Engines and clients a module forgot to close must not keep the suite waiting.
process.exit(0);
