import { open, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { PackageError } from '../errors.js';
import {
  type Batch,
  type BatchResult,
  DeflatePool,
  type SlotRef,
  TASK_DEFLATE,
  TASK_EXPECT_END,
  TASK_FINISH,
  TASK_STORE_IF_LARGER,
  TaskError,
  taskBound,
} from './deflate-pool.js';
import { OutputFile } from './output-file.js';
import {
  crc32Combine,
  dosDateTime,
  type EntryRecord,
  encodeCentralHeader,
  encodeEnd,
  encodeLocalHeader,
  METHOD_DEFLATE,
  METHOD_STORE,
  normalizeMode,
} from './zip-format.js';

export interface ZipInput {
  /** Path inside the archive, '/'-separated, relative. */
  name: string;
  /** st_mode; only the executable bits matter. */
  mode: number;
  /** Bytes; for a file, its size when listed (a change while packaging is an error). */
  size: number;
  /** File to read the content from... */
  path?: string;
  /** ...or the content itself. */
  data?: Uint8Array;
}

export interface WriteZipOptions {
  /** 0 stores everything; 1..9 deflate. */
  level: number;
  /** Timestamp for every entry, epoch seconds. */
  mtime: number;
  /** Deflate threads. Default: the machine's parallelism, at most 4 (each costs memory; 2 is the runner). */
  workers?: number;
  /** Files larger than this are deflated in chunks of this size on several threads. */
  chunkBytes?: number;
  /** Target raw bytes per batch sent to a worker. */
  batchBytes?: number;
  /** Most tasks per batch. */
  batchTasks?: number;
  /**
   * Output slots per worker: batches done or under way ahead of the entry being written. This is the
   * window that bounds memory whatever the app's size, and lets a worker run ahead of a slow neighbour.
   */
  slotsPerWorker?: number;
  /** Bytes gathered before a write. */
  flushBytes?: number;
  /** Pause dispatching while this many bytes wait for the disk. */
  maxBacklogBytes?: number;
  /** Write ZIP64 records for every entry and the end, as if the archive were huge (tests). */
  forceZip64?: boolean;
}

export interface WriteZipResult {
  path: string;
  size: number;
  sha256: string;
  entries: number;
}

/** Formats that are already compressed: deflating them costs time and gains nothing. */
const STORED_EXTENSIONS = new Set([
  '.7z',
  '.avif',
  '.br',
  '.bz2',
  '.gif',
  '.gz',
  '.jar',
  '.jpeg',
  '.jpg',
  '.mp3',
  '.mp4',
  '.nupkg',
  '.png',
  '.tgz',
  '.webm',
  '.webp',
  '.woff',
  '.woff2',
  '.xz',
  '.zip',
  '.zst',
]);

/** The deflate window: a chunk after the first is primed with this much of the bytes before it (pigz's method). */
const DICTIONARY_BYTES = 32 * 1024;
const MAX32 = 0xffffffff;

interface Job {
  entry: number;
  start: number;
  len: number;
  flags: number;
  first: boolean;
  last: boolean;
}

interface Done {
  crc: number;
  method: number;
  data: Uint8Array;
}

/**
 * Writes a deterministic ZIP: entries sorted by name, one fixed timestamp, normalized modes, UTF-8 names,
 * ZIP64 where needed. Files are read, CRC'd and deflated on worker threads, several at once, while entries
 * are written strictly in order with a bounded window of work ahead of the one being written.
 */
export async function writeZip(
  outPath: string,
  inputs: readonly ZipInput[],
  o: WriteZipOptions,
): Promise<WriteZipResult> {
  const level = o.level;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new PackageError(`Compression level ${level} is out of range`, {
      fix: 'Use a whole number from 0 to 9',
    });
  }
  const chunkBytes = Math.max(DICTIONARY_BYTES * 2, o.chunkBytes ?? 1 << 20);
  const batchBytes = o.batchBytes ?? 512 * 1024;
  const batchTasks = o.batchTasks ?? 256;
  const workers = Math.max(1, o.workers ?? Math.min(4, availableParallelism()));
  const slots = Math.max(1, o.slotsPerWorker ?? 4);
  const slotBytes = Math.max(batchBytes, taskBound(chunkBytes));
  const maxBacklog = o.maxBacklogBytes ?? 16 * 1024 * 1024;
  const force = o.forceZip64 === true;
  const dos = dosDateTime(o.mtime);

  const entries = [...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 0; i < entries.length; i++) {
    checkEntryName(entries[i]!.name);
    if (i > 0 && entries[i]!.name === entries[i - 1]!.name) {
      throw new PackageError(`The package would contain ${entries[i]!.name} twice`, {
        fix: 'Give each file a distinct path',
      });
    }
  }

  const jobs = planJobs(entries, level, chunkBytes);
  // Read as well as write: bytes after a patched header are read back to be hashed.
  const fh = await open(outPath, 'w+');
  const pool = jobs.some((j) => entries[j.entry]!.path !== undefined && j.len > 0)
    ? new DeflatePool(workers, slotBytes, slots)
    : null;
  try {
    const result = await new Promise<{ size: number; sha256: string }>((resolve, reject) => {
      const done: (Done | undefined)[] = new Array(jobs.length);
      const records: EntryRecord[] = [];
      /** Slots to hand back once the output has been written past `at`; `last` is the batch's last job. */
      const holds: { last: number; at: number; ref: SlotRef }[] = [];
      let current: EntryRecord | undefined;
      let nextJob = 0;
      let head = 0;
      let finished = false;
      let busy = false;
      let again = false;
      const out = new OutputFile(fh, o.flushBytes ?? 1 << 20, () => step());

      const fail = (e: unknown): void => {
        if (finished) return;
        finished = true;
        reject(e);
      };

      const writeJob = (job: Job, d: Done): void => {
        const e = entries[job.entry]!;
        if (job.first) {
          current = {
            name: Buffer.from(e.name, 'utf8'),
            method: d.method,
            crc: d.crc,
            compressedSize: d.data.length,
            size: e.size,
            offset: out.offset,
            mode: normalizeMode(e.mode),
            zip64Local: force || e.size + Math.ceil(e.size / 4096) + 4096 >= MAX32,
          };
          records.push(current);
          if (job.last) {
            out.append(encodeLocalHeader(current, dos));
          } else {
            out.beginPatchable();
            out.append(encodeLocalHeader({ ...current, crc: 0, compressedSize: 0 }, dos));
          }
        } else {
          const r = current!;
          r.crc = crc32Combine(r.crc, d.crc, job.len);
          r.compressedSize += d.data.length;
        }
        out.append(d.data);
        if (job.last && !job.first) {
          const r = current!;
          if (!r.zip64Local && r.compressedSize >= MAX32) {
            throw new Error(`${e.name}: compressed size ${r.compressedSize} exceeds the local header's room`);
          }
          out.patch(encodeLocalHeader(r, dos), r.offset);
        }
      };

      const drain = (): void => {
        for (let d = done[head]; d !== undefined; d = done[head]) {
          done[head] = undefined;
          writeJob(jobs[head]!, d);
          for (const h of holds) if (h.last === head) h.at = out.offset;
          head++;
        }
      };

      const releaseWritten = (): void => {
        while (holds.length > 0 && holds[0]!.at >= 0 && holds[0]!.at <= out.written)
          pool!.release(holds.shift()!.ref);
      };

      const dispatch = (): void => {
        while (nextJob < jobs.length && out.backlog < maxBacklog) {
          const first = jobs[nextJob]!;
          const e = entries[first.entry]!;
          if (e.path === undefined || first.len === 0) {
            done[nextJob] = inlineJob(e, first, level);
            nextJob++;
            continue;
          }
          if (!pool!.ready) break;
          const batch: Batch = { level, paths: [], nums: [] };
          const base = nextJob;
          let bound = 0;
          while (nextJob < jobs.length && batch.paths.length < batchTasks) {
            const j = jobs[nextJob]!;
            const je = entries[j.entry]!;
            if (je.path === undefined || j.len === 0) break;
            const b = taskBound(j.len);
            if (bound > 0 && (bound + b > slotBytes || bound >= batchBytes)) break;
            const dict = j.first || !(j.flags & TASK_DEFLATE) ? 0 : Math.min(DICTIONARY_BYTES, j.start);
            batch.paths.push(je.path);
            batch.nums.push(j.start, dict, j.len, j.flags);
            bound += b;
            nextJob++;
          }
          const hold = { last: nextJob - 1, at: -1, ref: { worker: -1, slot: -1 } };
          holds.push(hold);
          pool!.run(batch).then(
            (r) => {
              hold.ref = r.slot;
              accept(base, r);
              step();
            },
            (err) => fail(taskFailure(err, entries, jobs, base)),
          );
        }
      };

      const accept = (base: number, r: BatchResult): void => {
        let at = 0;
        for (let k = 0; k * 3 < r.meta.length; k++) {
          const len = r.meta[k * 3 + 1]!;
          done[base + k] = {
            crc: r.meta[k * 3]!,
            data: r.data.subarray(at, at + len),
            method: r.meta[k * 3 + 2]!,
          };
          at += len;
        }
      };

      const complete = (): void => {
        finished = true;
        const cdOffset = out.offset;
        for (const r of records) out.append(encodeCentralHeader(r, dos, force));
        const cdSize = out.offset - cdOffset;
        out.append(encodeEnd(records.length, cdOffset, cdSize, force));
        const size = out.offset;
        out.finish().then((sha256) => resolve({ size, sha256 }), reject);
      };

      function step(): void {
        if (finished) return;
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        try {
          do {
            again = false;
            if (out.error) throw out.error;
            drain();
            releaseWritten();
            dispatch();
            drain();
            // Slots free up only once their bytes are on disk: do not let them wait for a full write buffer.
            if (pool !== null && !pool.ready) out.flush();
          } while (again);
          if (head === jobs.length) complete();
        } catch (e) {
          fail(e);
        } finally {
          busy = false;
        }
      }

      step();
    });
    await fh.close();
    return { path: outPath, size: result.size, sha256: result.sha256, entries: entries.length };
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(outPath, { force: true });
    throw e;
  } finally {
    await pool?.close();
  }
}

function planJobs(entries: readonly ZipInput[], level: number, chunkBytes: number): Job[] {
  const jobs: Job[] = [];
  entries.forEach((e, entry) => {
    const deflate = level > 0 && e.size > 0 && !STORED_EXTENSIONS.has(extname(e.name).toLowerCase());
    // In-memory content is small (generated files): one piece, whatever its size.
    const chunks = e.path === undefined || e.size <= chunkBytes ? 1 : Math.ceil(e.size / chunkBytes);
    for (let c = 0; c < chunks; c++) {
      const start = c * chunkBytes;
      const len = chunks === 1 ? e.size : Math.min(chunkBytes, e.size - start);
      const last = c === chunks - 1;
      let flags = deflate ? TASK_DEFLATE : 0;
      if (last) flags |= TASK_FINISH | TASK_EXPECT_END;
      if (chunks === 1) flags |= TASK_STORE_IF_LARGER;
      jobs.push({ entry, start, len, flags, first: c === 0, last });
    }
  });
  return jobs;
}

function inlineJob(e: ZipInput, job: Job, level: number): Done {
  const raw = e.data ?? new Uint8Array(0);
  if (raw.length !== e.size)
    throw new Error(`${e.name}: declared size ${e.size} but ${raw.length} bytes given`);
  const c = crc32(raw);
  if (job.flags & TASK_DEFLATE) {
    const d = deflateRawSync(raw, { level });
    if (d.length < raw.length) return { crc: c, method: METHOD_DEFLATE, data: d };
  }
  return { crc: c, method: METHOD_STORE, data: raw };
}

function taskFailure(err: unknown, entries: readonly ZipInput[], jobs: readonly Job[], base: number): Error {
  if (!(err instanceof TaskError)) return err instanceof Error ? err : new Error(String(err));
  const name = entries[jobs[base + err.index]!.entry]!.name;
  switch (err.code) {
    case 'ECHANGED':
      return new PackageError(`${name} changed size while the package was being built`, {
        fix: 'Stop any build or process that writes to the app folder while the action packages it',
      });
    case 'ENOENT':
      return new PackageError(`${name} disappeared while the package was being built`, {
        fix: 'Stop any build or process that writes to the app folder while the action packages it',
      });
    case 'EACCES':
    case 'EPERM':
      return new PackageError(`Cannot read ${name}: permission denied`, {
        fix: `Make it readable, or exclude it with .funcignore or the exclude input`,
      });
    default:
      return new PackageError(`Cannot read ${name}: ${err.message} (${err.code})`, {
        fix: 'Check the file, or exclude it with .funcignore or the exclude input',
      });
  }
}

/** The walkers produce safe names; this is the last line of defence before bytes are written. */
export function checkEntryName(name: string): void {
  const bad =
    name.length === 0 ||
    name.startsWith('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    /^[A-Za-z]:/.test(name) ||
    name.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw new PackageError(`Unsafe path in the package: ${JSON.stringify(name)}`, {
      fix: 'Package paths must be relative, use "/" and contain no "." or ".." segments',
    });
  }
}
