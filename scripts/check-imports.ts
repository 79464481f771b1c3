// Import-boundary check: the folders' dependency rules, so the code keeps reading as its data flow.
// `node scripts/check-imports.ts` (run by .ci/run) prints each violation as file: imports target (rule) and
// exits 1 if there is any. The rules are data (RULES); test/unit/scripts/check-imports.test.ts covers them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

export interface ImportEdge {
  /** Importing file, relative to the repository root, '/' separated. */
  from: string;
  /** Imported file or folder (relative specifiers resolved against the root), or the package name. */
  to: string;
}

export interface Rule {
  name: string;
  /** Files the rule applies to. */
  appliesTo: (file: string) => boolean;
  /** True when `edge.to` is forbidden for such a file. */
  forbids: (edge: ImportEdge) => boolean;
}

const under =
  (...folders: string[]) =>
  (path: string) =>
    folders.some((folder) => path === folder || path.startsWith(`${folder}/`));
/** Code that is deployed or shipped (Lambda bundles, the collector image, the CDK app, the CLI's core). */
const PRODUCTION = under(
  'adapters',
  'clickhouse',
  'collector-edge',
  'core',
  'cost',
  'functions',
  'lib',
  'simulator',
  'bin/app.ts',
);
/** Development-only code: local engines and runners, benchmarks, tests and their shared workloads. */
const DEVELOPMENT_ONLY = under('local', 'bench', 'test', 'workloads');
/** What the CDK app may take from the Lambda side: the contracts, nothing with behaviour. */
const CONTRACTS = under('functions/shared', 'functions/flow-store/schema.ts');

export const RULES: Rule[] = [
  {
    name: 'functions/ never imports the CDK app (lib/): shared contracts live in functions/shared/',
    appliesTo: under('functions'),
    forbids: (edge) =>
      under('lib')(edge.to) || edge.to === 'aws-cdk-lib' || edge.to.startsWith('aws-cdk-lib/'),
  },
  {
    name: 'core/ is pure domain code: it imports only core/ and node: built-ins',
    appliesTo: under('core'),
    forbids: (edge) => !under('core')(edge.to) && !edge.to.startsWith('node:'),
  },
  {
    name: 'production code never imports local/, bench/, test/ or workloads/',
    appliesTo: PRODUCTION,
    forbids: (edge) => DEVELOPMENT_ONLY(edge.to),
  },
  {
    name: 'lib/ takes only contracts from functions/ (functions/shared/, functions/flow-store/schema.ts)',
    appliesTo: under('lib'),
    forbids: (edge) => under('functions')(edge.to) && !CONTRACTS(edge.to),
  },
  {
    name: 'the CLI is production code, except the commands that exist to run local mode or the benchmarks',
    appliesTo: (file) =>
      under('cli')(file) &&
      !['cli/commands/bench.ts', 'cli/commands/engines.ts', 'cli/commands/local.ts'].includes(file),
    forbids: (edge) => DEVELOPMENT_ONLY(edge.to),
  },
  {
    name: 'the CLI commands that run local mode or the benchmarks still never import tests or workloads',
    appliesTo: under('cli'),
    forbids: (edge) => under('test', 'workloads')(edge.to),
  },
  {
    name: 'benchmarks and shared workloads never import tests',
    appliesTo: under('bench', 'workloads'),
    forbids: (edge) => under('test')(edge.to),
  },
];

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

/** Every import specifier of a TypeScript source (static, dynamic and side-effect imports). */
export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((match) => match[1]!);
}

/** Resolves a specifier against the importing file: a repository path for relative ones, else the package. */
export function resolveSpecifier(fromFile: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return normalize(join(dirname(fromFile), specifier))
    .split('\\')
    .join('/');
}

export function violations(edges: ImportEdge[], rules: Rule[] = RULES): string[] {
  const found: string[] = [];
  for (const edge of edges) {
    for (const rule of rules) {
      if (rule.appliesTo(edge.from) && rule.forbids(edge)) {
        found.push(`${edge.from}: imports ${edge.to} (${rule.name})`);
      }
    }
  }
  return found;
}

const SKIP = new Set(['node_modules', 'cdk.out', 'dist', '.git', '.flowline', 'fixtures']);

function sourceFiles(root: string, folder = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = folder ? `${folder}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...sourceFiles(root, path));
    else if (/\.(ts|js|mjs)$/.test(entry.name)) files.push(path);
  }
  return files;
}

/** The import edges of every source file under `root`. */
export function importEdges(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((from) =>
    importSpecifiers(readFileSync(join(root, from), 'utf8')).map((specifier) => ({
      from,
      to: resolveSpecifier(from, specifier),
    })),
  );
}

if (import.meta.filename === process.argv[1]) {
  const root = relative(process.cwd(), join(import.meta.dirname, '..')) || '.';
  const found = violations(importEdges(root));
  for (const line of found) process.stderr.write(`${line}\n`);
  if (found.length > 0) {
    process.stderr.write(`check-imports: ${found.length} import(s) cross a boundary; see the rules above\n`);
    process.exitCode = 1;
  } else process.stdout.write('check-imports: every import respects the folder boundaries\n');
}
