/**
 * npm run bench [-- --rounds 3 --corpus medium,large --methods ours,ours-6,zip,jszip,archiver --levels 1,4,5,6,9
 *                  --tuning '{"workers":2}']
 *
 * Builds the corpora (cached in bench/.cache), then times each method in its own child process, alternating
 * methods within each round so machine noise is shared, and takes medians. Peak RSS comes from GNU time
 * (`/usr/bin/time -f %M`) when present, else from the child's own resource usage (node methods only).
 * Our output is checked with `unzip -t` and jszip. Writes bench/results.json and prints a table.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import JSZip from 'jszip';
import { DEFAULT_COMPRESSION_LEVEL } from '../src/package/index.js';
import { type Corpus, type CorpusName, ensureCorpus } from './corpus.js';

const here = import.meta.dirname;
const root = dirname(here);
const cache = join(here, '.cache');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    corpus: { type: 'string', default: 'medium,large' },
    methods: { type: 'string', default: 'ours,ours-6,zip,jszip,archiver' },
    levels: { type: 'string' },
    tuning: { type: 'string' },
    out: { type: 'string', default: join(here, 'results.json') },
  },
});
const rounds = Math.max(1, Number(args.rounds));
const corpora = args.corpus.split(',') as CorpusName[];

interface Method {
  id: string;
  label: string;
  level: number;
  command(src: string, out: string): { cmd: string; argv: string[]; cwd?: string; file: string };
}

function log(m: string): void {
  process.stderr.write(`${m}\n`);
}

/** The node methods run from an esbuild bundle, as the action runs from ncc's: no TypeScript loader in RSS. */
async function bundleChild(): Promise<{ cmd: string; pre: string[] }> {
  const outdir = join(cache, 'child');
  try {
    const esbuild = await import('esbuild');
    rmSync(outdir, { recursive: true, force: true });
    await esbuild.build({
      entryPoints: [join(here, 'child.ts')],
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir,
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning',
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
    });
    return { cmd: process.execPath, pre: [join(outdir, 'child.mjs')] };
  } catch (e) {
    log(
      `esbuild unavailable (${(e as Error).message}); running the child through tsx, whose loader adds to RSS`,
    );
    return { cmd: join(root, 'node_modules/.bin/tsx'), pre: [join(here, 'child.ts')] };
  }
}

function ensureZip(): string | undefined {
  const which = () => {
    try {
      return execFileSync('which', ['zip'], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      return undefined;
    }
  };
  let zip = which();
  if (!zip && process.getuid?.() === 0) {
    log('Installing Debian zip with apt-get...');
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'zip'], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      try {
        execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', timeout: 300_000 });
        execFileSync('apt-get', ['install', '-y', '-q', 'zip'], { stdio: 'ignore', timeout: 300_000 });
      } catch {
        /* reported below */
      }
    }
    zip = which();
  }
  if (!zip) log('zip (Info-ZIP) is absent and could not be installed: ratios to zip -r -6 are not available');
  return zip;
}

interface Run {
  seconds: number;
  rssMb: number | null;
  size: number;
  entries: number | null;
  file: string;
}

async function runOnce(m: Method, src: string): Promise<Run> {
  const out = mkdtempSync(join(tmpdir(), `bench-${m.id}-`));
  const c = m.command(src, out);
  const gnuTime = existsSync('/usr/bin/time');
  const timeFile = join(out, 'time.txt');
  const argv = gnuTime ? ['-f', '%M', '-o', timeFile, c.cmd, ...c.argv] : c.argv;
  const started = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve) => {
      const p = spawn(gnuTime ? '/usr/bin/time' : c.cmd, argv, {
        cwd: c.cwd ?? root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let o = '';
      let e = '';
      p.stdout.on('data', (d) => (o += d));
      p.stderr.on('data', (d) => (e += d));
      p.on('close', (code) => resolve({ code, stdout: o, stderr: e }));
    },
  );
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${m.id} failed (${code}): ${stderr.slice(-2000)}`);
  const rssKb = gnuTime ? Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop()) : Number.NaN;
  const info = stdout.trim()
    ? (JSON.parse(stdout.trim().split('\n').pop()!) as { file: string; size: number; entries: number })
    : undefined;
  const file = info?.file ?? c.file;
  const size = info?.size ?? Number(execFileSync('stat', ['-c', '%s', file], { encoding: 'utf8' }));
  return {
    seconds,
    rssMb: Number.isFinite(rssKb) ? Math.round(rssKb / 1024) : null,
    size,
    entries: info?.entries ?? null,
    file,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function verify(
  file: string,
  expectedEntries: number,
): Promise<{ unzip: boolean; jszip: boolean; entries: number }> {
  let unzip = false;
  try {
    unzip = /No errors detected/.test(
      execFileSync('unzip', ['-tq', file], { encoding: 'utf8', maxBuffer: 256 << 20 }),
    );
  } catch {
    unzip = false;
  }
  const zip = await JSZip.loadAsync(readFileSync(file));
  const names = Object.values(zip.files).filter((f) => !f.dir);
  // Spot-check content through jszip's own inflate: every 500th entry.
  let ok = names.length === expectedEntries;
  for (let i = 0; i < names.length && ok; i += 500) await names[i]!.async('uint8array');
  ok = ok && names.length > 0;
  return { unzip, jszip: ok, entries: names.length };
}

async function main(): Promise<void> {
  mkdirSync(cache, { recursive: true });
  const zipBin = ensureZip();
  const child = await bundleChild();
  const tuning = args.tuning ? [args.tuning] : [];
  const node = (id: string, label: string, method: string, level: number): Method => ({
    id,
    label,
    level,
    command: (src, out) => ({
      cmd: child.cmd,
      argv: [...child.pre, method, src, out, String(level), ...tuning],
      file: '',
    }),
  });
  const all: Method[] = [];
  const wanted = args.methods.split(',');
  for (const w of wanted) {
    if (w === 'ours')
      all.push(
        node('ours', `ours (level ${DEFAULT_COMPRESSION_LEVEL}, default)`, 'ours', DEFAULT_COMPRESSION_LEVEL),
      );
    else if (/^ours-\d$/.test(w)) all.push(node(w, `ours (level ${w.slice(5)})`, 'ours', Number(w.slice(5))));
    else if (w === 'zip' && zipBin)
      all.push({
        id: 'zip',
        label: 'zip -r -q -6',
        level: 6,
        command: (src, out) => ({
          cmd: zipBin,
          argv: ['-r', '-q', '-6', join(out, 'zip.zip'), '.'],
          cwd: src,
          file: join(out, 'zip.zip'),
        }),
      });
    else if (w === 'jszip') all.push(node('jszip', 'jszip 3.10 (level 6)', 'jszip', 6));
    else if (w === 'archiver') all.push(node('archiver', 'archiver 8 (level 6)', 'archiver', 6));
  }
  for (const l of args.levels ? args.levels.split(',') : []) {
    if (!all.some((m) => m.id === `ours-${l}`))
      all.push(node(`ours-${l}`, `ours (level ${l})`, 'ours', Number(l)));
  }

  const machine = {
    cpus: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    zip: zipBin ? execFileSync(zipBin, ['-v'], { encoding: 'utf8' }).split('\n')[1]?.trim() : null,
    tuning: args.tuning ?? null,
  };
  const results: Record<string, unknown> = {};
  for (const name of corpora) {
    const corpus: Corpus = ensureCorpus(cache, name, log);
    log(
      `\n${name}: ${corpus.files} files, ${(corpus.bytes / 1e6).toFixed(0)} MB, ${corpus.symlinks} symlinks; ${rounds} rounds`,
    );
    const runs = new Map<string, Run[]>(all.map((m) => [m.id, []]));
    for (let r = 0; r < rounds; r++) {
      // Alternate the order too, so no method always runs right after the same neighbour.
      const order = r % 2 === 0 ? all : [...all].reverse();
      for (const m of order) {
        const run = await runOnce(m, corpus.dir);
        log(
          `  round ${r + 1} ${m.id.padEnd(9)} ${run.seconds.toFixed(2)} s  ${run.rssMb ?? '?'} MB RSS  ${(run.size / 1e6).toFixed(1)} MB`,
        );
        const keep = runs.get(m.id)!;
        if (keep.length > 0) rmSync(dirname(keep[keep.length - 1]!.file), { recursive: true, force: true });
        keep.push(run);
      }
    }
    const zipMedian = runs.has('zip') ? median(runs.get('zip')!.map((x) => x.seconds)) : undefined;
    const zipSize = runs.has('zip') ? runs.get('zip')![0]!.size : undefined;
    const perMethod: Record<string, unknown> = {};
    for (const m of all) {
      const rs = runs.get(m.id)!;
      const seconds = median(rs.map((x) => x.seconds));
      const rss = rs.map((x) => x.rssMb).filter((x): x is number => x !== null);
      perMethod[m.id] = {
        label: m.label,
        level: m.level,
        medianSeconds: Number(seconds.toFixed(3)),
        runsSeconds: rs.map((x) => Number(x.seconds.toFixed(3))),
        peakRssMb: rss.length ? Math.max(...rss) : null,
        outputBytes: rs[rs.length - 1]!.size,
        timeVsZip: zipMedian ? Number((seconds / zipMedian).toFixed(3)) : null,
        sizeVsZip: zipSize ? Number((rs[rs.length - 1]!.size / zipSize).toFixed(3)) : null,
      };
    }
    const checks: Record<string, unknown> = {};
    for (const m of all.filter((x) => x.id.startsWith('ours'))) {
      const last = runs.get(m.id)!.at(-1)!;
      checks[m.id] = await verify(last.file, last.entries ?? -1);
    }
    for (const rs of runs.values())
      for (const x of rs) rmSync(dirname(x.file), { recursive: true, force: true });
    results[name] = {
      corpus: { files: corpus.files, bytes: corpus.bytes, symlinks: corpus.symlinks },
      methods: perMethod,
      checks,
    };
    printTable(name, perMethod, checks);
  }
  const doc = { generatedAt: new Date().toISOString(), rounds, machine, results };
  writeFileSync(args.out, `${JSON.stringify(doc, null, 2)}\n`);
  log(`\nWrote ${args.out}`);
}

function printTable(name: string, perMethod: Record<string, unknown>, checks: Record<string, unknown>): void {
  const rows = Object.values(perMethod) as {
    label: string;
    medianSeconds: number;
    peakRssMb: number | null;
    outputBytes: number;
    timeVsZip: number | null;
    sizeVsZip: number | null;
  }[];
  const lines = [
    `\n${name}`,
    `| method | median s | × zip time | peak RSS MB | output MB | × zip size |`,
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.medianSeconds.toFixed(2)} | ${r.timeVsZip?.toFixed(2) ?? '—'} | ${r.peakRssMb ?? '—'} | ${(r.outputBytes / 1e6).toFixed(1)} | ${r.sizeVsZip?.toFixed(3) ?? '—'} |`,
    ),
    `checks (ours): ${JSON.stringify(checks)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
