import { Worker } from 'node:worker_threads';

/**
 * Why worker threads and not `zlib.deflateRaw` on the libuv pool: each async call allocates a fresh deflate
 * state (~256 KB) that is returned to the OS and faulted in again, and goes through the stream machinery.
 * Measured on 20,000 small JS files (2 cores, Node 24): async deflateRaw 2.2 s wall and 464k page faults;
 * the same work as deflateRawSync on two workers in batches 0.28 s. Node modules are mostly small files.
 *
 * The worker is an inline CommonJS source (`eval: true`), so the ncc bundle needs no second file.
 * Each task reads its byte range itself (sync reads are cheap on a dedicated thread), CRCs and deflates it,
 * and the batch's outputs come back packed in one transferred ArrayBuffer.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { Z_FINISH, Z_SYNC_FLUSH } = zlib.constants;
const arena = new Uint8Array(workerData.arena);
const slotBytes = workerData.slotBytes;
// One read buffer per worker, reused: allocating per file leaves large external garbage between collections.
let scratch = Buffer.allocUnsafeSlow(1 << 20);

function readRange(path, start, length, expectEnd) {
  const want = length + (expectEnd ? 1 : 0);
  if (scratch.length < want) scratch = Buffer.allocUnsafeSlow(want);
  const fd = fs.openSync(path, 'r');
  try {
    let got = 0;
    for (;;) {
      const n = fs.readSync(fd, scratch, got, want - got, start + got);
      if (n === 0) break;
      got += n;
      if (got === want) break;
    }
    if (got !== length) {
      const e = new Error('size changed while reading');
      e.code = 'ECHANGED';
      throw e;
    }
  } finally {
    fs.closeSync(fd);
  }
  return scratch.subarray(0, length);
}

parentPort.on('message', (batch) => {
  const { id, slot, level, paths, nums } = batch;
  const base = slot * slotBytes;
  const meta = new Array(paths.length * 3);
  let at = 0;
  for (let i = 0; i < paths.length; i++) {
    const start = nums[i * 4], dict = nums[i * 4 + 1], len = nums[i * 4 + 2], flags = nums[i * 4 + 3];
    let input;
    try {
      input = readRange(paths[i], start - dict, dict + len, (flags & 8) !== 0);
    } catch (e) {
      parentPort.postMessage({ id, error: { index: i, code: e.code || 'EIO', message: e.message } });
      return;
    }
    const raw = dict ? input.subarray(dict) : input;
    const crc = zlib.crc32(raw);
    let out = raw;
    let method = 0;
    if (flags & 1) {
      // Output pieces of at most 16 KB (zlib's default), or the input's bound when smaller: sizing them to a
      // large input would allocate, and leave as garbage, a whole chunk's worth per call.
      const opts = { level, chunkSize: Math.min(16384, Math.max(64, len + (len >> 8) + 64)), finishFlush: flags & 2 ? Z_FINISH : Z_SYNC_FLUSH };
      if (dict) opts.dictionary = input.subarray(0, dict);
      const d = zlib.deflateRawSync(raw, opts);
      // A whole small file that does not shrink is stored; a chunk of a larger file cannot change method.
      if (!(flags & 4) || d.length < raw.length) { out = d; method = 8; }
    }
    if (at + out.length > slotBytes) {
      parentPort.postMessage({ id, error: { index: i, code: 'EOVERFLOW', message: 'output larger than its slot' } });
      return;
    }
    arena.set(out, base + at);
    meta[i * 3] = crc;
    meta[i * 3 + 1] = out.length;
    meta[i * 3 + 2] = method;
    at += out.length;
  }
  parentPort.postMessage({ id, meta });
});
`;

/** Task flags, shared with the worker source. */
export const TASK_DEFLATE = 1;
export const TASK_FINISH = 2;
export const TASK_STORE_IF_LARGER = 4;
export const TASK_EXPECT_END = 8;

export interface Batch {
  level: number;
  paths: string[];
  /** Per task: start, dictionary length before start, length, flags. */
  nums: number[];
}

/** A batch's outputs, back to back, in shared memory owned by the pool until `release`. */
export interface BatchResult {
  /** Per task: crc32, output length, method. */
  meta: number[];
  data: Uint8Array;
  slot: SlotRef;
}

export interface SlotRef {
  worker: number;
  slot: number;
}

export class TaskError extends Error {
  constructor(
    readonly index: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(r: BatchResult): void;
  reject(e: Error): void;
  slot: number;
}

interface Lane {
  worker: Worker;
  arena: SharedArrayBuffer;
  free: number[];
  pending: Map<number, Pending>;
}

/**
 * Worst-case output of one task in a slot: deflate's bound for incompressible data (stored blocks of 64 KB
 * with 5-byte headers, plus a sync-flush marker) rounded up generously.
 */
export function taskBound(len: number): number {
  return len + (len >> 10) + 64;
}

/**
 * Deflate workers, each with a fixed shared arena of `slots` output slots. A batch takes a free slot; its
 * output stays there until the writer has put it on disk and calls `release`. No per-batch allocation, so
 * memory stays flat however large the app, and the number of slots is the window of work ahead of the writer.
 */
export class DeflatePool {
  private readonly lanes: Lane[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    size: number,
    readonly slotBytes: number,
    slots: number,
  ) {
    for (let i = 0; i < size; i++) {
      const arena = new SharedArrayBuffer(slotBytes * slots);
      const lane: Lane = {
        worker: new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { arena, slotBytes },
          // The worker needs nothing from the parent's flags; inheriting a TypeScript loader (tsx, vitest)
          // only slows its start.
          execArgv: [],
          // A small young generation collects the per-call deflate buffers often.
          resourceLimits: { maxYoungGenerationSizeMb: 2 },
        }),
        arena,
        free: Array.from({ length: slots }, (_, k) => k),
        pending: new Map(),
      };
      lane.worker.on(
        'message',
        (m: { id: number; meta?: number[]; error?: { index: number; code: string; message: string } }) => {
          const p = lane.pending.get(m.id);
          if (!p) return;
          lane.pending.delete(m.id);
          if (m.error) {
            lane.free.push(p.slot);
            p.reject(new TaskError(m.error.index, m.error.code, m.error.message));
            return;
          }
          let total = 0;
          for (let k = 1; k < m.meta!.length; k += 3) total += m.meta![k]!;
          p.resolve({
            meta: m.meta!,
            data: new Uint8Array(arena, p.slot * slotBytes, total),
            slot: { worker: i, slot: p.slot },
          });
        },
      );
      const failAll = (e: Error) => {
        for (const p of lane.pending.values()) p.reject(e);
        lane.pending.clear();
      };
      lane.worker.on('error', failAll);
      lane.worker.on('exit', (code) => {
        if (!this.closed) failAll(new Error(`deflate worker exited with code ${code}`));
      });
      this.lanes.push(lane);
    }
  }

  /** A slot is free somewhere. */
  get ready(): boolean {
    return this.lanes.some((l) => l.free.length > 0);
  }

  run(batch: Batch): Promise<BatchResult> {
    // The lane with the most free slots has the least queued work.
    let lane = this.lanes[0]!;
    for (const l of this.lanes) if (l.free.length > lane.free.length) lane = l;
    const slot = lane.free.pop();
    if (slot === undefined) throw new Error('no free deflate slot');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      lane.pending.set(id, { resolve, reject, slot });
      lane.worker.postMessage({ id, slot, ...batch });
    });
  }

  release(ref: SlotRef): void {
    this.lanes[ref.worker]!.free.push(ref.slot);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }
}
