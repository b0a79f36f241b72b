import { createHash } from 'node:crypto';
import { copyFile, readFile } from 'node:fs/promises';
import JSZip from 'jszip';
import { PackageError } from '../errors.js';
import { type AppReport, validateApp } from './validate.js';

export interface SuppliedZip {
  size: number;
  sha256: string;
  fileCount: number;
  report: AppReport;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * A zip the user built: it must open, hold a function app at its root and no unsafe names; then it is
 * shipped byte for byte (copied to `dest`), so its sha256 is the user's file's.
 */
export async function useSuppliedZip(path: string, label: string, dest: string): Promise<SuppliedZip> {
  const bytes = await readFile(path);
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes, { checkCRC32: false });
  } catch (e) {
    throw new PackageError(`${label} is not a readable zip: ${(e as Error).message}`, {
      fix: 'Rebuild the zip, or point the package input at the app folder and let the action build it',
    });
  }
  const files: string[] = [];
  for (const entry of Object.values(zip.files)) {
    // jszip rewrites "../x" to "x" and keeps the original aside: judge the name as stored in the file.
    const name = entry.unsafeOriginalName ?? entry.name;
    if (isUnsafe(name)) {
      throw new PackageError(`${label} contains the unsafe path ${JSON.stringify(name)}`, {
        fix: 'Rebuild the zip from inside the app folder so every path is relative, without ".." or a drive letter',
      });
    }
    const mode = entry.unixPermissions;
    if (typeof mode === 'number' && (mode & S_IFMT) === S_IFLNK) {
      throw new PackageError(
        `${label} stores ${name} as a symbolic link, which deploys as a text file holding the link path`,
        {
          fix: 'Rebuild the zip with links followed (Info-ZIP zip without -y), or let the action build it from the folder',
        },
      );
    }
    if (!entry.dir) files.push(entry.name);
  }
  const report = await validateApp({
    names: files,
    label,
    read: (n) => zip.file(n)!.async('uint8array'),
  });
  await copyFile(path, dest);
  return {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    fileCount: files.length,
    report,
  };
}

function isUnsafe(name: string): boolean {
  if (name.length === 0 || name.includes('\0')) return true;
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) return true;
  return name.split(/[\\/]/).some((s) => s === '..');
}
