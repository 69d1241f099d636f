// The README and the pages under docs/ name repository paths, links, npm scripts and settings;
// each must exist, so a rename or a removed setting fails here rather than misleading a reader.
// Offline: reads the work tree only.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const text = (page: string) => readFileSync(join(root, page), 'utf8');

// Folders .gitignore names (node_modules/, .cache/, dist/) hold what is built, not the repository.
const ignored = new Set([
  '.git',
  ...text('.gitignore')
    .split('\n')
    .filter((line) => line.endsWith('/'))
    .map((line) => line.slice(0, -1)),
]);
const topLevel = new Set(readdirSync(root).filter((name) => !ignored.has(name)));

/** Every file and folder of the repository, relative to its root, folders with a trailing /. */
function walk(dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true })
    .filter((entry) => !(dir === '' && ignored.has(entry.name)))
    .flatMap((entry) => {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      return entry.isDirectory() ? [`${path}/`, ...walk(path)] : [path];
    });
}
const entries = walk();
const files = entries.filter((path) => !path.endsWith('/'));

/** The page's fenced code blocks, and its prose with them taken out. */
function split(markdown: string): { prose: string; code: string } {
  const parts = markdown.split(/^```.*$/m);
  return {
    prose: parts.filter((_, i) => i % 2 === 0).join('\n'),
    code: parts.filter((_, i) => i % 2 === 1).join('\n'),
  };
}

/** Words of inline code spans and code blocks: where commands, paths and settings are named. */
function codeWords(markdown: string): string[] {
  const { prose, code } = split(markdown);
  const spans = [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
  return [...spans, code]
    .flatMap((span) => span.split(/\s+/))
    .map((word) => word.replace(/^[("']+|[)"',;:]+$/g, ''))
    .filter(Boolean);
}

/** `{a,b}` expanded; `<name>` and `*` stand for one path segment, or part of one. */
function pattern(path: string): RegExp {
  const escaped = path
    .replace(/[.+?^$|()[\]\\]/g, '\\$&')
    .replace(/\{([^}]*)\}/g, (_, list: string) => `(${list.split(',').join('|')})`)
    .replace(/<[^>]+>|\*/g, '[^/]+');
  return new RegExp(`(^|/)${escaped}/?$`);
}

const codeExtensions = /\.(ts|sh|json|yaml|mod|md)$/;

/**
 * Why a word that names a repository path names none, or undefined. A path from the root
 * (`infra/local/stack.ts`) must exist; a path inside a folder the text is about
 * (`templates/bundle.json`) must end some path; a bare TypeScript or shell file name
 * (`resync.ts`) must be some file's name. Files the stack or a deploy writes (`stack.json`,
 * `firebase.json`) and what is built or installed (`.cache/`, `node_modules/`) are not checked.
 */
function missingPath(named: string): string | undefined {
  // `./shared/kube/index.ts`: an example's import, from the root
  const word = named.replace(/^\.\//, '');
  if (!/^[\w.@{},<>*-]+(\/[\w.@{},<>*-]*)*$/.test(word) || /^\.+$/.test(word)) return;
  const [first] = word.split('/');
  if (first === undefined || ignored.has(first)) return;
  const special = /[{}<>*]/.test(word);
  if (word.includes('/') && topLevel.has(first)) {
    if (
      special
        ? entries.some((e) => pattern(word).test(e) && e.startsWith(first))
        : existsSync(join(root, word))
    )
      return;
    return `no such path: ${word}`;
  }
  if (word.includes('/') && codeExtensions.test(word)) {
    if (files.some((file) => pattern(word).test(file))) return;
    return `no path ends with ${word}`;
  }
  if (!word.includes('/') && /^[\w.-]+\.(ts|sh)$/.test(word)) {
    if (files.some((file) => basename(file) === word)) return;
    return `no file is named ${word}`;
  }
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .replace(/\s/g, '-');
}

function missingLink(page: string, target: string): string | undefined {
  if (/^[a-z]+:/.test(target)) return; // https:, mailto:
  const [path = '', anchor] = target.split('#');
  const file = path === '' ? join(root, page) : resolve(root, dirname(page), path);
  if (!file.startsWith(root) || !existsSync(file)) return `broken link: ${target}`;
  if (anchor === undefined) return;
  const headings = [...split(readFileSync(file, 'utf8')).prose.matchAll(/^#+ (.*)$/gm)];
  if (!headings.some((h) => slug(h[1] ?? '') === anchor)) return `no heading for: ${target}`;
}

// What "the source" is for settings: every text file of the repository but the prose.
const source = files
  .filter((file) => !file.endsWith('.md') && !file.startsWith('docs/'))
  .filter((file) => /\.(ts|mjs|js|sh|json|yaml|yml)$/.test(file) || file === '.ci/run')
  .filter((file) => file !== 'package-lock.json' && file !== relative(root, import.meta.filename))
  .map((file) => readFileSync(join(root, file), 'utf8'))
  .join('\n');

/**
 * The environment settings a page names: every KUBEFN_ name, and each upper-case name with an
 * underscore in its code (`PUBSUB_EMULATOR_HOST`). `KUBEFN_ALLOW_<ROUTE>` and `KUBEFN_ALLOW_*`
 * name a family: then some setting must begin with `KUBEFN_ALLOW_`.
 */
function settings(markdown: string): { name: string; family: boolean }[] {
  const named = /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(_<[A-Z_]+>|_\*)?/g;
  const inCode = codeWords(markdown).join(' ');
  return [...markdown.matchAll(named)]
    .filter((m) => m[1]?.startsWith('KUBEFN_'))
    .concat([...inCode.matchAll(named)])
    .map((m) => ({ name: m[1] ?? '', family: m[2] !== undefined }));
}

/** Settings of the tools kubefn runs under, which kubefn's own source never reads. */
const readByOthers: Record<string, string> = {
  PULUMI_CONFIG: "Pulumi's runtime: the stack's config when a program runs without the engine",
};

function missingSetting({ name, family }: { name: string; family: boolean }) {
  if (!family && name in readByOthers) return;
  const found = family
    ? source.includes(`${name}_`)
    : new RegExp(`(^|[^A-Z0-9_])${name}($|[^A-Z0-9_])`).test(source);
  return found ? undefined : `no source names ${family ? `${name}_*` : name}`;
}

const scripts = Object.keys(JSON.parse(text('package.json')).scripts as Record<string, string>);

function missingCommand(command: string[]): string | undefined {
  const [script, argument] = command;
  if (script === undefined || !scripts.includes(script)) return `no npm script ${script}`;
  // `npm run bench -- NAME` runs test/bench/NAME.ts, `npm run chaos -- NAME` test/chaos/NAME.ts.
  if (argument && /^[a-z][\w-]*$/.test(argument) && (script === 'bench' || script === 'chaos'))
    if (!existsSync(join(root, 'test', script, `${argument}.ts`)))
      return `no ${script} ${argument}`;
}

function commands(markdown: string): string[][] {
  const runs = [...markdown.matchAll(/\bnpm run ([\w:-]+)(?: -- ([\w-]+))?/g)];
  const short = [...markdown.matchAll(/\bnpm (start|test)\b/g)];
  return [...runs.map((m) => [m[1] ?? '', m[2] ?? '']), ...short.map((m) => [m[1] ?? ''])];
}

const problems = (check: (page: string, markdown: string) => (string | undefined)[]) =>
  pages.flatMap((page) =>
    [...new Set(check(page, text(page)))]
      .filter((problem) => problem !== undefined)
      .map((problem) => `${page}: ${problem}`),
  );

describe('README.md and docs/', () => {
  // A regular expression that stopped matching would make every check below pass on nothing.
  test.each([
    ['a path in code', () => codeWords(text('README.md')), 'infra/k8s/rbac.yaml'],
    ['a path in a code block', () => codeWords(text('docs/deploy.md')), 'infra/k8s/install.ts'],
    ['a setting', () => settings(text('README.md')).map((s) => s.name), 'KUBEFN_AUTH_AUDIENCE'],
    [
      'a family of settings',
      () => settings(text('docs/security-model.md')),
      { name: 'KUBEFN_ALLOW', family: true },
    ],
    ['a command', () => commands(text('README.md')), ['bench', 'NAME']],
  ])('the checks see %s', (_, found, expected) => {
    expect(found()).toContainEqual(expected);
  });

  test('every page under docs/ is linked from the README, and so is test/bench/README.md', () => {
    const linked = [...text('README.md').matchAll(/\]\(([^)#\s]+)/g)].map((m) => m[1]);
    const unlinked = [...pages.slice(1), 'test/bench/README.md'].filter((p) => !linked.includes(p));
    expect(unlinked).toEqual([]);
  });

  test('every repository path named in code exists', () => {
    expect(problems((_, markdown) => codeWords(markdown).map(missingPath))).toEqual([]);
  });

  test('every relative link and anchor resolves', () => {
    const links = (markdown: string) =>
      [...split(markdown).prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
    expect(
      problems((page, markdown) => links(markdown).map((link) => missingLink(page, link))),
    ).toEqual([]);
  });

  test('every npm command names a script (and a bench or chaos that exists)', () => {
    expect(problems((_, markdown) => commands(markdown).map(missingCommand))).toEqual([]);
  });

  test('every setting named is read somewhere in the source', () => {
    expect(problems((_, markdown) => settings(markdown).map(missingSetting))).toEqual([]);
  });
});
