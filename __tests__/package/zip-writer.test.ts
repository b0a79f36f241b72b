import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackageError } from '../../src/errors.js';
import { writeZip, type ZipInput } from '../../src/package/zip-writer.js';
import { centralDirectory, fileNames, openZip, tempDir, unzipTest } from './helpers.js';

function mem(name: string, content: string | Buffer, mode = 0o644): ZipInput {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { name, data, size: data.length, mode };
}

function onDisk(dir: string, name: string, content: Buffer, mode = 0o644): ZipInput {
  const path = join(dir, name.replace(/\//g, '_'));
  writeFileSync(path, content, { mode });
  return { name, path, size: content.length, mode };
}

/** Text that compresses, with enough variety that deflate has work to do. */
function text(bytes: number, seed = 1): Buffer {
  const words = [
    'function',
    'return',
    'const',
    'module',
    'exports',
    'require',
    'async',
    'await',
    'null',
    'this',
  ];
  let s = '';
  let x = seed;
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += `${words[x % words.length]}${x % 97} `;
    if (x % 13 === 0) s += '\n';
  }
  return Buffer.from(s.slice(0, bytes));
}

// Comparing digests: toEqual walks a large Buffer element by element and takes seconds.
const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sha = (p: string) => digest(readFileSync(p));

describe('writeZip', () => {
  it('round-trips files and in-memory entries, sorted, through jszip and unzip -t', async () => {
    const dir = tempDir();
    const big = text(300_000);
    const inputs = [
      onDisk(dir, 'z/last.js', Buffer.from('last\n')),
      onDisk(dir, 'a/big.js', big),
      mem('empty.txt', ''),
      mem('host.json', '{"version":"2.0"}'),
      onDisk(dir, 'bin/run.sh', Buffer.from('#!/bin/sh\necho hi\n'), 0o755),
      mem('naïve/ünïcødé €.js', 'x'),
    ];
    const out = join(tempDir(), 'p.zip');
    const r = await writeZip(out, inputs, { level: 6, mtime: 315532800 });
    expect(r.entries).toBe(6);
    expect(r.size).toBe(statSync(out).size);
    expect(r.sha256).toBe(sha(out));

    const zip = await openZip(out);
    expect(fileNames(zip)).toEqual([
      'a/big.js',
      'bin/run.sh',
      'empty.txt',
      'host.json',
      'naïve/ünïcødé €.js',
      'z/last.js',
    ]);
    expect(digest(await zip.file('a/big.js')!.async('nodebuffer'))).toBe(digest(big));
    expect(await zip.file('empty.txt')!.async('string')).toBe('');
    expect(await zip.file('naïve/ünïcødé €.js')!.async('string')).toBe('x');
    expect(unzipTest(out)).toMatch(/No errors detected/);

    const cd = centralDirectory(out);
    expect(cd.map((e) => e.name)).toEqual([...cd.map((e) => e.name)].sort()); // written in sorted order
    for (const e of cd) {
      expect(e.flags & 0x0800).toBe(0x0800); // UTF-8 flag on every name
      expect(e.madeBy >> 8).toBe(3); // Unix, so the mode in the external attributes is honoured
    }
    const mode = (n: string) => (cd.find((e) => e.name === n)!.externalAttrs >>> 16) & 0o777;
    expect(mode('bin/run.sh')).toBe(0o755);
    expect(mode('z/last.js')).toBe(0o644);
    expect(cd.find((e) => e.name === 'a/big.js')!.method).toBe(8);
    expect(cd.find((e) => e.name === 'empty.txt')!.method).toBe(0);
  });

  it('deflates a large file in chunks on several workers and patches its header', async () => {
    const dir = tempDir();
    // Text and random halves: chunks with a primed dictionary, and chunks that do not compress.
    const big = Buffer.concat([text(700_000, 7), randomBytes(300_000), text(200_001, 9)]);
    const inputs = [
      onDisk(dir, 'big.bin', big),
      onDisk(dir, 'small.js', text(5000)),
      mem('after.js', 'after'),
    ];
    const out = join(tempDir(), 'p.zip');
    const r = await writeZip(out, inputs, { level: 6, mtime: 315532800, chunkBytes: 128 * 1024, workers: 2 });
    expect(r.sha256).toBe(sha(out)); // the digest covers the patched header too
    const zip = await openZip(out);
    expect(digest(await zip.file('big.bin')!.async('nodebuffer'))).toBe(digest(big));
    expect(await zip.file('after.js')!.async('string')).toBe('after');
    expect(unzipTest(out)).toMatch(/No errors detected/);
    // Chunking is fixed, so the bytes do not depend on how many workers ran.
    const out1 = join(tempDir(), 'p1.zip');
    await writeZip(out1, inputs, {
      level: 6,
      mtime: 315532800,
      chunkBytes: 128 * 1024,
      workers: 1,
      batchTasks: 1,
    });
    expect(sha(out1)).toBe(r.sha256);
  });

  it('stores already-compressed formats, and everything at level 0', async () => {
    const dir = tempDir();
    const png = text(50_000); // compressible, but .png is not worth a deflate pass
    const inputs = [onDisk(dir, 'logo.png', png), onDisk(dir, 'a.js', text(50_000))];
    const out = join(tempDir(), 'p.zip');
    await writeZip(out, inputs, { level: 6, mtime: 0 });
    expect(Object.fromEntries(centralDirectory(out).map((e) => [e.name, e.method]))).toEqual({
      'a.js': 8,
      'logo.png': 0,
    });

    const stored = join(tempDir(), 's.zip');
    const r = await writeZip(stored, inputs, { level: 0, mtime: 0 });
    expect(centralDirectory(stored).map((e) => e.method)).toEqual([0, 0]);
    expect(r.size).toBeGreaterThan(100_000);
    expect(unzipTest(stored)).toMatch(/No errors detected/);
  });

  it('writes ZIP64 end records for more than 65,535 entries, with the true count everywhere', async () => {
    const n = 65_600;
    const inputs: ZipInput[] = [];
    for (let i = 0; i < n; i++) inputs.push(mem(`d${i % 50}/f${i}`, ''));
    const out = join(tempDir(), 'many.zip');
    const r = await writeZip(out, inputs, { level: 6, mtime: 315532800 });
    expect(r.entries).toBe(n);

    const b = readFileSync(out);
    const eocd = b.subarray(b.length - 22);
    expect(eocd.readUInt32LE(0)).toBe(0x06054b50);
    expect(eocd.readUInt16LE(10)).toBe(0xffff); // the sentinel, never 65,600 mod 65,536
    const z64 = b.subarray(b.length - 22 - 20 - 56);
    expect(z64.readUInt32LE(0)).toBe(0x06064b50);
    expect(Number(z64.readBigUInt64LE(32))).toBe(n);

    expect(unzipTest(out)).toMatch(/No errors detected/);
    const listed = execFileSync('zipinfo', ['-1', out], { encoding: 'utf8', maxBuffer: 64 << 20 })
      .trim()
      .split('\n');
    expect(listed.length).toBe(n);
    expect(execFileSync('zipinfo', ['-h', out], { encoding: 'utf8' })).toMatch(
      new RegExp(`number of entries: ${n}`),
    );
    const zip = await openZip(out);
    expect(Object.keys(zip.files).filter((k) => !zip.files[k]!.dir).length).toBe(n);
  }, 30_000);

  it('writes ZIP64 extras that Info-ZIP and jszip read (forced, as for a file past 4 GiB)', async () => {
    const dir = tempDir();
    const big = text(400_000, 3);
    const inputs = [
      onDisk(dir, 'big.js', big),
      onDisk(dir, 'run.sh', Buffer.from('#!/bin/sh\n'), 0o755),
      mem('host.json', '{}'),
    ];
    const out = join(tempDir(), 'z64.zip');
    await writeZip(out, inputs, { level: 6, mtime: 315532800, forceZip64: true, chunkBytes: 128 * 1024 });
    expect(unzipTest(out)).toMatch(/No errors detected/);
    const zip = await openZip(out);
    expect(digest(await zip.file('big.js')!.async('nodebuffer'))).toBe(digest(big));
    expect(await zip.file('host.json')!.async('string')).toBe('{}');
    // The local header says "see the ZIP64 extra" for both sizes.
    const b = readFileSync(out);
    expect(b.readUInt32LE(18)).toBe(0xffffffff);
    expect(b.readUInt32LE(22)).toBe(0xffffffff);
    expect(b.readUInt16LE(30 + 'big.js'.length)).toBe(0x0001);
  });

  it('is byte-identical for the same input, whatever the timezone', async () => {
    const dir = tempDir();
    const inputs = [
      onDisk(dir, 'a.js', text(20_000)),
      mem('host.json', '{"version":"2.0"}'),
      onDisk(dir, 'b/c.js', text(90_000, 5)),
    ];
    const saved = process.env.TZ;
    const shas: string[] = [];
    try {
      for (const tz of ['UTC', 'Asia/Kathmandu', 'America/St_Johns']) {
        process.env.TZ = tz;
        const out = join(tempDir(), 'p.zip');
        shas.push((await writeZip(out, [...inputs].reverse(), { level: 6, mtime: 1709214358 })).sha256);
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    expect(new Set(shas).size).toBe(1);
  });

  it('refuses a file whose size changed since it was listed', async () => {
    const dir = tempDir();
    const input = onDisk(dir, 'grew.js', Buffer.from('12345'));
    const out = join(tempDir(), 'p.zip');
    await expect(writeZip(out, [{ ...input, size: 3 }], { level: 6, mtime: 0 })).rejects.toThrow(
      /grew\.js changed size while the package was being built/,
    );
    await expect(writeZip(out, [{ ...input, size: 9 }], { level: 6, mtime: 0 })).rejects.toThrow(
      PackageError,
    );
    expect(() => statSync(out)).toThrow(); // no partial package left behind
  });

  it.each(['../x.js', '/etc/passwd', 'a/../../b', 'a\\b.js', 'C:/x', 'a//b'])(
    'refuses the unsafe name %s',
    async (name) => {
      await expect(
        writeZip(join(tempDir(), 'p.zip'), [mem(name, 'x')], { level: 6, mtime: 0 }),
      ).rejects.toThrow(/Unsafe path/);
    },
  );

  it('refuses a duplicate name and an out-of-range level', async () => {
    const out = join(tempDir(), 'p.zip');
    await expect(writeZip(out, [mem('a', 'x'), mem('a', 'y')], { level: 6, mtime: 0 })).rejects.toThrow(
      /twice/,
    );
    await expect(writeZip(out, [mem('a', 'x')], { level: 10, mtime: 0 })).rejects.toThrow(/out of range/);
  });

  /** Runs writeZip on one sparse file of `size` bytes in a child process; returns its peak RSS in MB. */
  function packSparse(size: number, out: string): { rssMb: number; zipSize: number } {
    const file = join(tempDir(), 'sparse.bin');
    writeFileSync(file, '');
    truncateSync(file, size);
    const script = `
      import { writeZip } from ${JSON.stringify(join(import.meta.dirname, '../../src/package/zip-writer.ts'))};
      const r = await writeZip(${JSON.stringify(out)}, [{ name: 'data/zeros.bin', path: ${JSON.stringify(file)}, size: ${size}, mode: 0o644 },
        { name: 'host.json', data: Buffer.from('{}'), size: 2, mode: 0o644 }], { level: 1, mtime: 0 });
      console.log(JSON.stringify({ rssMb: Math.round(process.resourceUsage().maxRSS / 1024), zipSize: r.size }));`;
    const tsx = join(import.meta.dirname, '../../node_modules/.bin/tsx');
    const run = spawnSync(tsx, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(run.stderr);
    return JSON.parse(run.stdout.trim());
  }

  it('keeps memory bounded whatever the file size', () => {
    const out = join(tempDir(), 'big.zip');
    const { rssMb } = packSparse(768 * 1024 * 1024, out);
    // The whole file in memory would be 768 MB; the slots and the TypeScript loader stay far below.
    expect(rssMb).toBeLessThan(256);
    expect(unzipTest(out)).toMatch(/No errors detected/);
  }, 60_000);

  // About 30 s on 2 cores (4.3 GB through deflate, then through unzip -t): run with AFPD_TEST_4GB=1.
  it.runIf(process.env.AFPD_TEST_4GB === '1')(
    'writes ZIP64 sizes for a file of 4 GiB or more',
    () => {
      const out = join(tempDir(), 'huge.zip');
      packSparse(4_300_000_000, out);
      expect(unzipTest(out)).toMatch(/No errors detected/);
      const info = execFileSync('zipinfo', ['-v', out], { encoding: 'utf8' });
      expect(info).toMatch(/uncompressed size:\s+4300000000 bytes/);
      expect(info).toMatch(/PKWARE 64-bit sizes/);
    },
    120_000,
  );
});
