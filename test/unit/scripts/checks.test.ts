// The CI checks of scripts/: the import boundaries on this repository and on planted violations, and the
// relative-link check on a documentation tree with good and broken links.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importEdges, importSpecifiers, violations } from '../../../scripts/check-imports.ts';
import {
  brokenLinks,
  documentationFiles,
  headingAnchors,
  markdownLinks,
} from '../../../scripts/check-links.ts';

const ROOT = join(import.meta.dirname, '../../..');
const dirs: string[] = [];
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'flowline-checks-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('import boundaries', () => {
  it('this repository has no violation', () => {
    expect(violations(importEdges(ROOT))).toEqual([]);
  });

  it('finds static, dynamic and side-effect imports', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "import './side-effect.ts';",
      "const c = await import('../../c.ts');",
      "export { d } from './d.ts';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual([
      './a.ts',
      '../b.ts',
      './side-effect.ts',
      '../../c.ts',
      './d.ts',
    ]);
  });

  it('reports each planted violation with its rule', () => {
    const root = tree({
      'functions/flusher/handler.ts': "import { X } from '../../lib/metric-names.ts';",
      'functions/correlator/cdk.ts': "import { Stack } from 'aws-cdk-lib';",
      'core/ip.ts': "import { Y } from '../adapters/aws-clients.ts';\nimport { z } from 'node:net';",
      'core/pkg.ts': "import { Kinesis } from '@aws-sdk/client-kinesis';",
      'collector-edge/main.ts': "import { engines } from '../local/engines/index.ts';",
      'lib/stack.ts':
        "import { FLOW_TABLE_SCHEMA } from '../functions/flow-store/schema.ts';\n" +
        "import { M } from '../functions/shared/metric-names.ts';\n" +
        "import { Flusher } from '../functions/flusher/flusher.ts';",
      'cli/commands/cost.ts': "const m = await import('../../bench/cost-model.ts');",
      'cli/commands/local.ts': "const m = await import('../../local/runner/live.ts');",
      'cli/commands/bench.ts': "import { w } from '../../workloads/correlator-workload.ts';",
      'bench/decode.bench.ts': "import { f } from '../test/unit/ipfix/fuzz.ts';",
      'workloads/w.ts': "import { g } from '../core/flow-key.ts';",
    });
    const found = violations(importEdges(root));
    const pairs = found.map((line) => line.slice(0, line.indexOf(' (')));
    expect(pairs.sort()).toEqual(
      [
        'bench/decode.bench.ts: imports test/unit/ipfix/fuzz.ts',
        'cli/commands/bench.ts: imports workloads/correlator-workload.ts',
        'cli/commands/cost.ts: imports bench/cost-model.ts',
        'core/ip.ts: imports adapters/aws-clients.ts',
        'core/pkg.ts: imports @aws-sdk/client-kinesis',
        'collector-edge/main.ts: imports local/engines/index.ts',
        'functions/correlator/cdk.ts: imports aws-cdk-lib',
        'functions/flusher/handler.ts: imports lib/metric-names.ts',
        'lib/stack.ts: imports functions/flusher/flusher.ts',
      ].sort(),
    );
  });
});

describe('relative links', () => {
  it('README.md and docs/ of this repository resolve', () => {
    const files = documentationFiles(ROOT);
    expect(files).toContain('README.md');
    expect(files.flatMap((file) => brokenLinks(ROOT, file))).toEqual([]);
  });

  it('reads inline, image and reference links, not those in code', () => {
    const markdown = [
      'See [a](docs/a.md) and ![p](img/p.png "title").',
      '`[not](a-link.md)` is code.',
      '```',
      '[also not](fenced.md)',
      '```',
      '[ref]: ./ref.md',
    ].join('\n');
    expect(markdownLinks(markdown)).toEqual([
      { line: 1, target: 'docs/a.md' },
      { line: 1, target: 'img/p.png' },
      { line: 6, target: './ref.md' },
    ]);
  });

  it('makes GitHub anchors, numbering repeats', () => {
    expect([...headingAnchors('# Local mode: `npm start`\n## Cost (per 1M)\n## Cost (per 1M)\n')]).toEqual([
      'local-mode-npm-start',
      'cost-per-1m',
      'cost-per-1m-1',
    ]);
  });

  it('reports missing files and headings, accepts the rest', () => {
    const root = tree({
      'README.md':
        '[cli](docs/cli.md) [gone](docs/gone.md) [web](https://example.com) [top](#intro)\n# Intro\n',
      'docs/cli.md':
        '# CLI\n## Exit codes\n[back](../README.md#intro) [bad](../README.md#outro) [code](../src/x.ts)\n',
    });
    expect(documentationFiles(root).sort()).toEqual(['README.md', 'docs/cli.md']);
    expect(documentationFiles(root).flatMap((file) => brokenLinks(root, file))).toEqual([
      'README.md:1: docs/gone.md (no such file: docs/gone.md)',
      'docs/cli.md:3: ../README.md#outro (no heading #outro in README.md)',
      'docs/cli.md:3: ../src/x.ts (no such file: src/x.ts)',
    ]);
  });
});
