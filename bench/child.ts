/**
 * One packaging run in its own process, so the parent can measure its wall time and peak RSS.
 * Usage: child <ours|jszip|archiver> <source dir> <out dir> <level> [tuning JSON]
 * Prints one JSON line: { file, size, entries }.
 */
import { createWriteStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Each method loads only its own code (the bench bundles with code splitting), so no method's peak RSS
// carries another library's modules.

const [method, source, outDir, levelArg, tuningArg] = process.argv.slice(2);
const level = Number(levelArg);

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      const name = rel ? `${rel}/${e.name}` : e.name;
      const isDir = e.isDirectory() || (e.isSymbolicLink() && statSync(abs).isDirectory());
      if (isDir) walk(abs, name);
      else out.push(name);
    }
  };
  walk(root, '');
  return out;
}

async function main(): Promise<{ file: string; size: number; entries: number }> {
  if (method === 'ours') {
    const { buildPackage } = await import('../src/package/index.js');
    const r = await buildPackage({
      source: source!,
      workspace: '/',
      outDir: outDir!,
      exclude: [],
      compressionLevel: level,
      logger: { info() {}, warning() {} },
      ...(tuningArg ? { tuning: JSON.parse(tuningArg) } : {}),
    });
    return { file: r.path, size: r.size, entries: r.fileCount };
  }
  if (method === 'jszip') {
    // jszip takes buffers (37k read streams at once hit EMFILE), so the whole app is held in memory.
    const { default: JSZip } = await import('jszip');
    const zip = new JSZip();
    const names = listFiles(source!);
    for (const n of names) zip.file(n, readFileSync(join(source!, n)));
    const buf = await zip.generateAsync({
      type: 'nodebuffer',
      compression: 'DEFLATE',
      compressionOptions: { level },
    });
    const file = join(outDir!, 'jszip.zip');
    writeFileSync(file, buf);
    return { file, size: buf.length, entries: names.length };
  }
  if (method === 'archiver') {
    const { ZipArchive } = await import('archiver');
    const file = join(outDir!, 'archiver.zip');
    const output = createWriteStream(file);
    const archive = new ZipArchive({ zlib: { level } });
    let entries = 0;
    archive.on('entry', () => entries++);
    const done = new Promise<void>((resolve, reject) => {
      output.on('close', resolve);
      archive.on('error', reject);
    });
    archive.pipe(output);
    archive.directory(source!, false);
    await archive.finalize();
    await done;
    return { file, size: statSync(file).size, entries };
  }
  throw new Error(`unknown method ${method}`);
}

main().then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
