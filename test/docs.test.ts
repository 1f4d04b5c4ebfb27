/**
 * The README's and docs/'s relative links: each names a file that exists,
 * an anchor that one of its headings makes, and, for the README (npm shows
 * it and installs it beside the package), a file the package ships. And
 * their TypeScript snippets compile against the package's types.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDirs } from './tmp';

const ROOT = path.resolve(__dirname, '../..');
const tmp = tempDirs('docs');
const PAGES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Markdown links and images outside code: [text](target). */
function links(page: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
}

/** The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const m of text.matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

/** Whether package.json's `files` ships `file` (entries are folders ending in / or files). */
function packaged(file: string): boolean {
  const files: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).files;
  return files.some((f) => (f.endsWith('/') ? file.startsWith(f) : file === f));
}

test.each(PAGES)('%s: every relative link names a file and an anchor that exist', (page) => {
  const broken: string[] = [];
  for (const target of links(page)) {
    const [file, anchor] = target.split('#');
    const resolved = file ? path.relative(ROOT, path.resolve(ROOT, path.dirname(page), file)) : page;
    if (!fs.existsSync(path.join(ROOT, resolved))) broken.push(`${target}: no file ${resolved}`);
    else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) broken.push(`${target}: no heading makes #${anchor}`);
  }
  expect(broken).toEqual([]);
});

test("the README's links name files the package ships (npm shows the README without the repository)", () => {
  const unshipped = links('README.md').map((t) => t.split('#')[0]).filter((f) => f && !packaged(path.normalize(f)));
  expect(unshipped).toEqual([]);
});

test('the anchor rule gives the anchor the README links to for "## BLAS and ZCA"', () => {
  expect(anchors('docs/RESULTS.md').has('blas-and-zca')).toBe(true);
  expect(links('README.md')).toContain('docs/RESULTS.md#blas-and-zca');
});

test("the TypeScript snippets of the README and docs/ compile against the package's types, as a user's ES module", () => {
  const dir = tmp();
  const snippets = PAGES.flatMap((page) =>
    [...fs.readFileSync(path.join(ROOT, page), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => ({ page, code: m[1] })));
  expect(snippets.length).toBeGreaterThanOrEqual(5);
  // One .mts file each (top-level await, as the README says), importing 'allcnn' as a user's project does.
  snippets.forEach(({ page, code }, i) => fs.writeFileSync(path.join(dir, `${page.replace(/[/.]/g, '_')}-${i}.mts`), `${code}export {};\n`));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true,
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      paths: { allcnn: [path.join(ROOT, 'dist', 'lib', 'index.d.ts')] },
    },
    include: ['*.mts'],
  }));
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
  // tsc names the snippet's file, which names its page: README_md-0.mts(3,5): error ...
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.status).toBe(0);
});
