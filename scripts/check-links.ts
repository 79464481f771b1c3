// Relative-link check for the documentation: every relative link in README.md and docs/**/*.md must name an
// existing file, and a #fragment must name a heading of the target Markdown file (GitHub's anchor rules).
// `node scripts/check-links.ts` (run by .ci/run) prints each broken link as file:line: target (why) and exits 1
// if there is any. External links (http:, https:, mailto:) are not fetched: CI has no network to rely on.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface Link {
  line: number;
  target: string;
}

/** Inline links, images and reference definitions outside fenced code blocks and inline code. */
export function markdownLinks(markdown: string): Link[] {
  const links: Link[] = [];
  let fenced = false;
  markdown.split('\n').forEach((text, index) => {
    if (/^\s*(```|~~~)/.test(text)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    const prose = text.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: index + 1, target: match[1]! });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(prose);
    if (definition) links.push({ line: index + 1, target: definition[1]! });
  });
  return links;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered -1, -2... */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const text of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(text)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const base = heading[1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/** The broken relative links of one Markdown file (`file` relative to `root`). */
export function brokenLinks(root: string, file: string): string[] {
  const markdown = readFileSync(join(root, file), 'utf8');
  const broken: string[] = [];
  for (const { line, target } of markdownLinks(markdown)) {
    if (EXTERNAL.test(target)) continue;
    const [pathPart = '', fragment] = target.split('#', 2);
    const path = decodeURIComponent(pathPart.split('?')[0]!);
    const resolved = path === '' ? join(root, file) : join(root, dirname(file), path);
    const where = `${file}:${line}: ${target}`;
    if (!existsSync(resolved)) {
      broken.push(`${where} (no such file: ${relative(root, resolved) || '.'})`);
      continue;
    }
    if (fragment && resolved.endsWith('.md') && statSync(resolved).isFile()) {
      if (!headingAnchors(readFileSync(resolved, 'utf8')).has(fragment.toLowerCase())) {
        broken.push(`${where} (no heading #${fragment} in ${relative(root, resolved)})`);
      }
    }
  }
  return broken;
}

/** README.md and every Markdown file under docs/, relative to `root`. */
export function documentationFiles(root: string): string[] {
  const files = existsSync(join(root, 'README.md')) ? ['README.md'] : [];
  const walk = (folder: string) => {
    if (!existsSync(join(root, folder))) return;
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

if (import.meta.filename === process.argv[1]) {
  const root = join(import.meta.dirname, '..');
  const files = documentationFiles(root);
  const broken = files.flatMap((file) => brokenLinks(root, file));
  for (const line of broken) process.stderr.write(`${line}\n`);
  if (broken.length > 0) {
    process.stderr.write(`check-links: ${broken.length} broken relative link(s); fix the paths above\n`);
    process.exitCode = 1;
  } else process.stdout.write(`check-links: every relative link in ${files.length} file(s) resolves\n`);
}
