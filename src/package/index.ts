import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { PackageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { liftTemplate } from './arm.js';
import { collectFolder } from './collect.js';
import { loadIgnoreRules } from './ignore-rules.js';
import { useSuppliedZip } from './supplied-zip.js';
import { type AppReport, validateApp } from './validate.js';
import { type WriteZipOptions, writeZip, type ZipInput } from './zip-writer.js';

export interface BuildPackageOptions {
  /** The `package` input: a folder, a .zip, or an ARM template .json (resolved against the workspace). */
  source: string;
  /** GITHUB_WORKSPACE; never modified. */
  workspace: string;
  /** Where the zip (and slimmed template) are written: outside the source tree. */
  outDir: string;
  /** Extra gitignore patterns (the `exclude` input). */
  exclude: string[];
  /** 0..9. */
  compressionLevel: number;
  /** SOURCE_DATE_EPOCH (seconds); else DOS time's first instant, 1980-01-01 00:00 UTC. */
  sourceDateEpoch?: number;
  logger: Pick<Logger, 'info' | 'warning'>;
  /** Writer tuning (bench and tests); the defaults are the measured best. */
  tuning?: Omit<WriteZipOptions, 'level' | 'mtime'>;
}

export interface PackageResult {
  path: string;
  size: number;
  sha256: string;
  fileCount: number;
  functions: string[];
  /** A Python app that needs its requirements installed (remote build) to load. */
  pythonNeedsBuild: boolean;
  source: 'folder' | 'zip' | 'arm-template';
  /** Slimmed ARM template (arm-template source only). */
  templatePath?: string;
  warnings: string[];
}

/**
 * Level 4 is the knee measured on the large benchmark app (36k files, 293 MB, 2 cores; bench/README.md):
 * levels 1 → 4 shrink the package 10 % for ~0.9 s more CPU, while 4 → 6 buy 4.5 % for another ~2 s and
 * level 9 0.6 % for 5 s more. Level 4 comes out the size of `zip -r -6`'s output.
 */
export const DEFAULT_COMPRESSION_LEVEL = 4;
/** 1980-01-01T00:00:00Z, the first instant a ZIP (DOS) timestamp can hold. */
export const DEFAULT_EPOCH = 315_532_800;
export const PACKAGE_FILE = 'package.zip';
export const TEMPLATE_FILE = 'template.json';

export async function buildPackage(o: BuildPackageOptions): Promise<PackageResult> {
  const started = performance.now();
  const source = resolve(o.workspace, o.source);
  const label = relative(o.workspace, source).replace(/\\/g, '/') || '.';
  const st = await stat(source).catch(() => undefined);
  if (!st) {
    throw new PackageError(
      `The package input ${JSON.stringify(o.source)} does not exist (looked for ${source})`,
      {
        fix: 'Give a folder, a .zip or an ARM template .json, relative to the repository root',
      },
    );
  }
  await mkdir(o.outDir, { recursive: true });
  const out = join(o.outDir, PACKAGE_FILE);
  const mtime = o.sourceDateEpoch ?? DEFAULT_EPOCH;
  const zipOptions: WriteZipOptions = { ...o.tuning, level: o.compressionLevel, mtime };
  let result: PackageResult;

  if (st.isDirectory()) {
    const outAbs = resolve(o.outDir);
    const rules = loadIgnoreRules(source, o.exclude);
    const { files, excludedLocalSettings } = collectFolder(source, rules, [outAbs]);
    const hostRule = rules.excludedBy('host.json');
    if (
      hostRule &&
      files.length > 0 &&
      !files.some((f) => f.name === 'host.json') &&
      existsSync(join(source, 'host.json'))
    ) {
      throw new PackageError(
        `The folder ${label} has a host.json, but ${hostRule} leaves it out of the package`,
        {
          fix: `Remove that pattern, or add '!host.json' after it: the Functions host needs host.json at the package root`,
        },
      );
    }
    const report = await validateApp({
      names: files.map((f) => f.name),
      label: `the folder ${label}`,
      read: reader(files),
    });
    if (excludedLocalSettings.length > 0) {
      report.warnings.push(
        `${excludedLocalSettings.join(', ')} left out of the package: it holds local development settings and secrets; set app settings on the Function App instead`,
      );
    }
    o.logger.info(
      `Packaging ${files.length} files from ${label} (${mb(files.reduce((n, f) => n + f.size, 0))} MB)`,
    );
    const z = await writeZip(out, files, zipOptions);
    result = fromReport(z.path, z.size, z.sha256, files.length, report, 'folder');
  } else if (extname(source).toLowerCase() === '.zip') {
    const z = await useSuppliedZip(source, label, out);
    result = fromReport(out, z.size, z.sha256, z.fileCount, z.report, 'zip');
  } else if (extname(source).toLowerCase() === '.json') {
    const lifted = liftTemplate(await readFile(source, 'utf8'), label);
    const report = await validateApp({
      names: lifted.files.map((f) => f.name),
      label: `the functions lifted from ${label}`,
      read: reader(lifted.files),
    });
    report.warnings.push(...lifted.warnings);
    const z = await writeZip(out, lifted.files, zipOptions);
    const templatePath = join(o.outDir, TEMPLATE_FILE);
    await writeFile(templatePath, `${JSON.stringify(lifted.slim, null, 2)}\n`);
    result = {
      ...fromReport(z.path, z.size, z.sha256, lifted.files.length, report, 'arm-template'),
      templatePath,
    };
  } else {
    throw new PackageError(
      `The package input ${label} is a file that is neither a .zip nor an ARM template .json`,
      {
        fix: 'Give the app folder, a .zip of it, or an ARM template .json',
      },
    );
  }

  for (const w of result.warnings) o.logger.warning(w);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  o.logger.info(
    `Package ${basename(result.path)}: ${result.fileCount} files, ${mb(result.size)} MB, sha256 ${result.sha256}, ` +
      `${result.functions.length} functions${result.functions.length ? ` (${result.functions.join(', ')})` : ''}, ${secs} s`,
  );
  return result;
}

function fromReport(
  path: string,
  size: number,
  sha256: string,
  fileCount: number,
  report: AppReport,
  source: PackageResult['source'],
): PackageResult {
  return {
    path,
    size,
    sha256,
    fileCount,
    functions: report.functions,
    pythonNeedsBuild: report.pythonNeedsBuild,
    source,
    warnings: report.warnings,
  };
}

function reader(files: readonly ZipInput[]): (name: string) => Promise<Uint8Array> {
  const byName = new Map(files.map((f) => [f.name, f]));
  return async (name) => {
    const f = byName.get(name);
    if (!f) throw new Error(`${name} is not in the package`);
    return f.data ?? (await readFile(f.path!));
  };
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
