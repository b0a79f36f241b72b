import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackageError } from '../../src/errors.js';
import {
  app,
  build,
  centralDirectory,
  fileNames,
  openZip,
  tempDir,
  unzipTest,
  writeTree,
  zipText,
} from './helpers.js';

/** Every path with its mode, size, mtime and content hash: any change to the workspace shows. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      const st = statSync(p, { throwIfNoEntry: false });
      const rel = relative(root, p);
      if (d.isDirectory()) {
        out.push(`${rel}/ ${st?.mode}`);
        walk(p);
      } else if (d.isFile()) {
        out.push(
          `${rel} ${st?.mode} ${st?.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`,
        );
      } else out.push(`${rel} (other)`);
    }
  };
  walk(root);
  return out.sort();
}

describe('packaging a folder', () => {
  it.each([
    ['.funcignore', { '.funcignore': '# keep it lean\n*.json\n' }, [], "pattern '*.json' in .funcignore"],
    ['the exclude input', {}, ['host.*'], "pattern 'host.*' in the 'exclude' input"],
  ] as const)('names the rule in %s that excludes host.json', async (_where, extra, exclude, rule) => {
    const dir = writeTree(tempDir(), {
      'host.json': '{"version":"2.0"}',
      'F/function.json': '{}',
      'F/index.js': '',
      ...extra,
    });
    const error = await build(dir, { exclude: [...exclude] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PackageError);
    expect((error as Error).message).toContain(`has a host.json, but ${rule} leaves it out of the package`);
    expect((error as Error).message).toMatch(/add '!host\.json' after it/);
  });

  it('packages the v3 example with its function names and the local.settings.json warning', async () => {
    const r = await build(join(import.meta.dirname, '../../examples/hello-v3'));
    expect(r.source).toBe('folder');
    expect(r.functions).toEqual(['HttpHello', 'TimerTick']);
    const zip = await openZip(r.path);
    expect(fileNames(zip)).toEqual([
      'HttpHello/function.json',
      'HttpHello/index.js',
      'TimerTick/function.json',
      'TimerTick/index.js',
      'host.json',
      'package.json',
    ]);
    expect(r.fileCount).toBe(6);
    expect(r.warnings.join('\n')).toMatch(/local\.settings\.json left out of the package/);
    expect(r.logged.warning).toEqual(r.warnings);
    expect(r.size).toBe(statSync(r.path).size);
    expect(r.sha256).toBe(createHash('sha256').update(readFileSync(r.path)).digest('hex'));
  });

  it('packages the v4 example and finds its functions in the "main" files', async () => {
    const r = await build(join(import.meta.dirname, '../../examples/hello-v4'));
    expect(r.functions).toEqual(['hello']);
    expect(r.warnings).toEqual([]);
  });

  it('is byte-identical across two builds, any TZ, and honours SOURCE_DATE_EPOCH', async () => {
    const dir = app({
      'lib/util.js': 'exports.x = 1;\n'.repeat(500),
      'bin/tool': { content: '#!/bin/sh\n', mode: 0o755 },
    });
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Australia/Lord_Howe';
      const a = await build(dir);
      process.env.TZ = 'Pacific/Marquesas';
      const b = await build(dir);
      expect(b.sha256).toBe(a.sha256);
      expect(readFileSync(b.path).equals(readFileSync(a.path))).toBe(true);

      const epoch = 1700000000; // 2023-11-14T22:13:20Z
      const c = await build(dir, { sourceDateEpoch: epoch });
      expect(c.sha256).not.toBe(a.sha256);
      const cd = centralDirectory(c.path);
      expect(new Set(cd.map((e) => `${e.date}/${e.time}`)).size).toBe(1);
      expect(cd[0]!.time >> 11).toBe(22); // hours in UTC, not in Pacific/Marquesas
      expect(centralDirectory(a.path)[0]!.date).toBe((1 << 5) | 1); // 1980-01-01 by default
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('keeps the executable bit and normalizes the other permission bits', async () => {
    const dir = app({
      'run.sh': { content: '#!/bin/sh\n', mode: 0o700 },
      'data.txt': { content: 'x', mode: 0o600 },
    });
    const cd = centralDirectory((await build(dir)).path);
    const mode = (n: string) => (cd.find((e) => e.name === n)!.externalAttrs >>> 16).toString(8);
    expect(mode('run.sh')).toBe('100755');
    expect(mode('data.txt')).toBe('100644');
  });

  it('applies .funcignore and the exclude input, and never ships the fixed list', async () => {
    const dir = app({
      '.funcignore': [
        '*.test.js',
        'docs/',
        '!docs/keep.md',
        '!local.settings.json',
        '!.vscode/',
        'tmp*',
      ].join('\n'),
      'Hello/index.test.js': 'test',
      'docs/readme.md': 'docs',
      'docs/keep.md': 'negation cannot re-include a file in an ignored folder',
      'tmp.log': 'x',
      'scripts/build.sh': 'x',
      'scripts/deploy.sh': 'x',
      'src/a.ts': 'x',
      'local.settings.json': '{"Values":{}}',
      'Hello/local.settings.json': '{}',
      '.git/HEAD': 'ref: refs/heads/main',
      '.github/workflows/ci.yml': 'on: push',
      '.vscode/settings.json': '{}',
      'sub/.git': 'gitdir: ../.git/modules/sub',
      'sub/kept.js': 'x',
    });
    const r = await build(dir, { exclude: ['scripts/deploy.sh', '*.ts', '  ', '# a comment'] });
    expect(fileNames(await openZip(r.path))).toEqual([
      'Hello/function.json',
      'Hello/index.js',
      'host.json',
      'scripts/build.sh',
      'sub/kept.js',
    ]);
    expect(r.warnings.join('\n')).toMatch(/Hello\/local\.settings\.json, local\.settings\.json left out/);
  });

  it('never modifies the workspace', async () => {
    const dir = app({
      '.funcignore': 'secret.txt\n',
      'secret.txt': 'x',
      'local.settings.json': '{}',
      'node_modules/.bin/tool': { content: '#!/bin/sh\n', mode: 0o755 },
    });
    symlinkSync('../Hello/index.js', join(dir, 'node_modules/link.js'));
    const before = snapshot(dir);
    await build(dir, { outDir: tempDir() });
    expect(snapshot(dir)).toEqual(before);
  });

  it('skips the output folder when it is inside the source', async () => {
    const dir = app();
    const r = await build(dir, { outDir: join(dir, 'out') });
    expect(fileNames(await openZip(r.path))).not.toContain('out/package.zip');
    expect(r.fileCount).toBe(3);
  });

  describe('symlinks', () => {
    it('stores the content of a link to a file inside the root, never a link entry', async () => {
      const dir = app({
        'node_modules/pkg/bin/cli.js': { content: '#!/usr/bin/env node\nconsole.log(1)\n', mode: 0o755 },
      });
      mkdirSync(join(dir, 'node_modules/.bin'));
      symlinkSync('../pkg/bin/cli.js', join(dir, 'node_modules/.bin/cli'));
      const r = await build(dir);
      const zip = await openZip(r.path);
      expect(await zipText(zip, 'node_modules/.bin/cli')).toBe('#!/usr/bin/env node\nconsole.log(1)\n');
      const entry = centralDirectory(r.path).find((e) => e.name === 'node_modules/.bin/cli')!;
      expect((entry.externalAttrs >>> 16) & 0o170000).toBe(0o100000); // a regular file
      expect((entry.externalAttrs >>> 16) & 0o777).toBe(0o755); // the target's executable bit
      expect(unzipTest(r.path)).toMatch(/No errors/);
    });

    it('follows a link to a folder inside the root', async () => {
      const dir = app({ 'shared/util.js': 'u' });
      symlinkSync('../shared', join(dir, 'Hello/shared'));
      const zip = await openZip((await build(dir)).path);
      expect(await zipText(zip, 'Hello/shared/util.js')).toBe('u');
      expect(await zipText(zip, 'shared/util.js')).toBe('u');
    });

    it('refuses a link that leaves the root', async () => {
      const outside = writeTree(tempDir(), { 'secret.txt': 'no' });
      const dir = app();
      symlinkSync(join(outside, 'secret.txt'), join(dir, 'Hello/secret.txt'));
      const err = await build(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PackageError);
      expect((err as Error).message).toMatch(
        /Hello\/secret\.txt is a symlink to .*secret\.txt, outside the app folder\. Copy the target/,
      );
    });

    it('refuses a link through a parent folder (..) even when it comes back in', async () => {
      const dir = app();
      symlinkSync('../../', join(dir, 'Hello/up'));
      await expect(build(dir)).rejects.toThrow(/Hello\/up is a symlink to .*outside the app folder/);
    });

    it('accepts a link that leaves the root when it is excluded', async () => {
      const dir = app({ '.funcignore': 'escape\n' });
      symlinkSync('/etc', join(dir, 'escape'));
      expect((await build(dir)).fileCount).toBe(3);
    });

    it('refuses a broken link and a loop', async () => {
      const broken = app();
      symlinkSync('missing.js', join(broken, 'Hello/gone.js'));
      await expect(build(broken)).rejects.toThrow(/Hello\/gone\.js is a broken symlink.*Remove the link/);

      const loop = app();
      symlinkSync('..', join(loop, 'Hello/again'));
      await expect(build(loop)).rejects.toThrow(/Hello\/again is a symlink to \., a folder that contains it/);
    });
  });

  it('refuses a special file unless it is excluded', async () => {
    const dir = app();
    execFileSync('mkfifo', [join(dir, 'Hello/pipe')]);
    await expect(build(dir)).rejects.toThrow(/Hello\/pipe is not a regular file.*Exclude it/);
    expect((await build(dir, { exclude: ['pipe'] })).fileCount).toBe(3);
  });

  it('stays within a low open-file limit on thousands of files', () => {
    const dir = app();
    for (let d = 0; d < 20; d++) {
      const files: Record<string, string> = {};
      for (let f = 0; f < 150; f++)
        files[`node_modules/p${d}/f${f}.js`] = `module.exports = ${d * 1000 + f};\n`;
      writeTree(dir, files);
    }
    const out = tempDir();
    const script = `
      import { buildPackage } from ${JSON.stringify(join(import.meta.dirname, '../../src/package/index.ts'))};
      const r = await buildPackage({ source: ${JSON.stringify(dir)}, workspace: '/', outDir: ${JSON.stringify(out)},
        exclude: [], compressionLevel: 6, logger: { info() {}, warning() {} } });
      console.log(r.fileCount);`;
    const tsx = join(import.meta.dirname, '../../node_modules/.bin/tsx');
    // 64 descriptors cover node, its workers and stdio; one descriptor per file at once would need 3,000.
    const run = spawnSync(
      'bash',
      ['-c', `ulimit -n 64 && exec "${tsx}" --input-type=module -e "$0"`, script],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.stderr).not.toMatch(/EMFILE/);
    expect(run.stdout.trim()).toBe('3003');
  }, 60_000);
});
