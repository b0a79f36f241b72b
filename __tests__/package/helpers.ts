import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import JSZip from 'jszip';
import { afterEach } from 'vitest';
import { type BuildPackageOptions, buildPackage, type PackageResult } from '../../src/package/index.js';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'afpd-pkg-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export type Tree = Record<string, string | Buffer | { content: string | Buffer; mode: number }>;

export function writeTree(root: string, tree: Tree): string {
  for (const [rel, v] of Object.entries(tree)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof v === 'string' || Buffer.isBuffer(v)) writeFileSync(p, v);
    else {
      writeFileSync(p, v.content);
      chmodSync(p, v.mode);
    }
  }
  return root;
}

export const HOST = JSON.stringify({ version: '2.0' });
export const HTTP_FUNCTION = JSON.stringify({
  bindings: [
    { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'function', methods: ['get'] },
    { type: 'http', direction: 'out', name: 'res' },
  ],
});

/** A minimal valid classic app plus `extra`. */
export function app(extra: Tree = {}): string {
  return writeTree(tempDir(), {
    'host.json': HOST,
    'Hello/function.json': HTTP_FUNCTION,
    'Hello/index.js': 'module.exports = async () => ({ body: "hi" });\n',
    ...extra,
  });
}

export interface Logged {
  info: string[];
  warning: string[];
}

export async function build(
  source: string,
  over: Partial<BuildPackageOptions> = {},
): Promise<PackageResult & { logged: Logged }> {
  const logged: Logged = { info: [], warning: [] };
  const r = await buildPackage({
    source,
    workspace: over.workspace ?? '/',
    outDir: over.outDir ?? tempDir('afpd-out-'),
    exclude: [],
    compressionLevel: 6,
    logger: { info: (m) => logged.info.push(m), warning: (m) => logged.warning.push(m) },
    ...over,
  });
  return { ...r, logged };
}

export async function openZip(path: string): Promise<JSZip> {
  return JSZip.loadAsync(readFileSync(path));
}

export async function zipText(zip: JSZip, name: string): Promise<string> {
  const f = zip.file(name);
  if (!f) throw new Error(`${name} not in zip; has ${Object.keys(zip.files).join(', ')}`);
  return f.async('string');
}

export function fileNames(zip: JSZip): string[] {
  return Object.values(zip.files)
    .filter((f) => !f.dir)
    .map((f) => f.name)
    .sort();
}

/** `unzip -t` exit status and output: Info-ZIP's own integrity check, independent of our code and jszip. */
export function unzipTest(path: string): string {
  return execFileSync('unzip', ['-t', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

export interface CentralEntry {
  name: string;
  madeBy: number;
  flags: number;
  method: number;
  time: number;
  date: number;
  externalAttrs: number;
}

/** Reads the central directory with plain offsets (classic, non-ZIP64 archives), for header-level checks. */
export function centralDirectory(path: string): CentralEntry[] {
  const b = readFileSync(path);
  const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = b.readUInt32LE(eocd + 16);
  const count = b.readUInt16LE(eocd + 10);
  const out: CentralEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (b.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central header at ${at}`);
    const nameLen = b.readUInt16LE(at + 28);
    const extraLen = b.readUInt16LE(at + 30);
    const commentLen = b.readUInt16LE(at + 32);
    out.push({
      madeBy: b.readUInt16LE(at + 4),
      flags: b.readUInt16LE(at + 8),
      method: b.readUInt16LE(at + 10),
      time: b.readUInt16LE(at + 12),
      date: b.readUInt16LE(at + 14),
      externalAttrs: b.readUInt32LE(at + 38),
      name: b.toString('utf8', at + 46, at + 46 + nameLen),
    });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
