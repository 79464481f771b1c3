// docs/configuration.md is the one reference for every setting; this test keeps it from drifting from the
// code: every CDK context key (with its default), every collector setting and every Lambda environment
// variable the functions read must be documented there, and the doc must name no CDK key the app lacks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COLLECTOR_SETTINGS } from '../../../collector-edge/config.ts';
import { DEFAULT_CONFIG } from '../../../lib/config.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(join(root, 'docs/configuration.md'), 'utf8');

/** Rows of the CDK context table: first cell's backticked keys -> second cell's text. */
function documentedContextKeys(): Map<string, string> {
  const section = doc.slice(doc.indexOf('## CDK context'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| Key |')));
  const keys = new Map<string, string>();
  for (const line of table.split('\n').slice(2)) {
    const [, keyCell = '', defaultCell = ''] = line.split('|').map((cell) => cell.trim());
    const names = [...keyCell.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!);
    const defaults = [...defaultCell.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
    for (const [i, name] of names.entries()) keys.set(name, defaults[i] ?? defaultCell);
  }
  return keys;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Environment variables the Lambda code reads: `env.NAME`, `env['NAME']`, `...FromEnv(env, 'NAME', ...)`. */
function lambdaEnvironmentVariables(): Set<string> {
  const names = new Set<string>();
  for (const file of tsFiles(join(root, 'functions'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]{3,})\b/g)) names.add(m[1]!);
    for (const m of text.matchAll(/\benv\[['"]([A-Z][A-Z0-9_]{3,})['"]\]/g)) names.add(m[1]!);
    for (const m of text.matchAll(/FromEnv\(\s*env,\s*['"]([A-Z][A-Z0-9_]{3,})['"]/g)) names.add(m[1]!);
  }
  for (const ambient of ['AWS_REGION', 'AWS_LAMBDA_FUNCTION_NAME', 'POWERTOOLS_DEV']) names.delete(ambient);
  return names;
}

describe('docs/configuration.md', () => {
  it('documents every CDK context key with its default, and no key the app lacks', () => {
    const documented = documentedContextKeys();
    const actual = Object.keys(DEFAULT_CONFIG);
    expect([...documented.keys()].filter((key) => !actual.includes(key))).toEqual([]);
    expect(actual.filter((key) => !documented.has(key))).toEqual([]);
    for (const [key, value] of Object.entries(DEFAULT_CONFIG)) {
      const shown = documented.get(key)!;
      if (value === undefined || value === '') continue; // "none" / "empty" in prose
      expect({ key, shown }).toEqual({ key, shown: String(value) });
    }
  });

  it('documents every collector setting', () => {
    const missing = COLLECTOR_SETTINGS.map((s) => s.env).filter((env) => !doc.includes(`\`${env}\``));
    expect(missing).toEqual([]);
  });

  it('documents every environment variable the Lambda functions read', () => {
    const variables = [...lambdaEnvironmentVariables()];
    expect(variables.length).toBeGreaterThan(10);
    expect(variables.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });
});
