import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadIgnoreRules, NEVER_SHIP } from '../../src/package/ignore-rules.js';
import { tempDir, writeTree } from './helpers.js';

// What ships, decided path by path: the never-ship list, then .funcignore, then the exclude input.

const rules = (funcignore: string | undefined, exclude: string[] = []) => {
  const root = tempDir();
  if (funcignore !== undefined) writeTree(root, { '.funcignore': funcignore });
  return loadIgnoreRules(root, exclude);
};

describe('the never-ship list', () => {
  it('is these names', () => {
    expect(NEVER_SHIP).toEqual(['.git', '.github', '.vscode', 'local.settings.json', '.funcignore']);
  });

  it.each([
    ['.git', true],
    ['sub/.git', true],
    ['.github', true],
    ['.vscode', true],
    ['local.settings.json', true],
    ['Hello/local.settings.json', true],
    ['.funcignore', true],
    ['a/b/.funcignore', true],
    ['.gitignore', false],
    ['x.git', false],
    ['.git2', false],
    ['local.settings.json.bak', false],
    ['.github-actions', false],
    ['app.js', false],
  ])('%s never ships: %s, as a file and as a folder, without any rules', (rel, never) => {
    const r = rules(undefined);
    expect(r.ignoresFile(rel)).toBe(never);
    expect(r.ignoresDir(rel)).toBe(never);
    expect(r.neverShips(rel)).toBe(never);
  });

  it('a negation in .funcignore or exclude cannot bring one back', () => {
    const r = rules('!local.settings.json\n!.vscode/\n', ['!.git', '!**/local.settings.json']);
    expect(r.ignoresFile('local.settings.json')).toBe(true);
    expect(r.ignoresFile('Hello/local.settings.json')).toBe(true);
    expect(r.ignoresDir('.vscode')).toBe(true);
    expect(r.ignoresDir('.git')).toBe(true);
  });
});

describe('.funcignore and the exclude input', () => {
  it('applies .funcignore with gitignore syntax: folders, globs, anchors and negations', () => {
    const r = rules('*.test.js\ndocs/\n/tmp*\n!keep.test.js\n# a comment\n');
    expect(r.ignoresFile('Hello/index.test.js')).toBe(true);
    expect(r.ignoresFile('keep.test.js')).toBe(false);
    expect(r.ignoresDir('docs')).toBe(true);
    expect(r.ignoresFile('docs')).toBe(false);
    expect(r.ignoresFile('tmp.log')).toBe(true);
    expect(r.ignoresFile('sub/tmp.log')).toBe(false);
    expect(r.ignoresFile('# a comment')).toBe(false);
    expect(r.ignoresFile('Hello/index.js')).toBe(false);
    expect(r.neverShips('Hello/index.test.js')).toBe(false);
  });

  it('exclude patterns come after .funcignore: they add to it, and their negation wins', () => {
    const r = rules('*.md\nscripts/\n', ['!README.md', 'tests/', '*.ts']);
    expect(r.ignoresFile('CHANGELOG.md')).toBe(true);
    expect(r.ignoresFile('README.md')).toBe(false);
    expect(r.ignoresDir('scripts')).toBe(true);
    expect(r.ignoresDir('tests')).toBe(true);
    expect(r.ignoresFile('src/a.ts')).toBe(true);
    expect(r.ignoresFile('src/a.js')).toBe(false);
  });

  it('exclude alone, without a .funcignore', () => {
    const r = rules(undefined, ['*.ts']);
    expect(r.ignoresFile('a.ts')).toBe(true);
    expect(r.ignoresFile('a.js')).toBe(false);
  });

  it('exclude patterns are trimmed; blank ones and comments are dropped; a # later in a pattern is kept', () => {
    const r = rules(undefined, ['  *.ts  ', '', '   ', '# *.js', 'notes#']);
    expect(r.ignoresFile('a.ts')).toBe(true);
    expect(r.ignoresFile('a.js')).toBe(false);
    expect(r.ignoresFile('notes#')).toBe(true);
    expect(r.ignoresFile('notes')).toBe(false);
  });

  it('a .funcignore of blank lines and comments ignores nothing but the never-ship list', () => {
    const r = rules('\n  \n# nothing\n');
    expect(r.ignoresFile('a.js')).toBe(false);
    expect(r.ignoresDir('docs')).toBe(false);
    expect(r.ignoresDir('.git')).toBe(true);
  });

  it('a .funcignore that cannot be read is an error, not an empty list', () => {
    const root = tempDir();
    mkdirSync(join(root, '.funcignore'));
    expect(() => loadIgnoreRules(root, [])).toThrow(/EISDIR/);
  });
});
