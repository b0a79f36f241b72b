import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

interface Step {
  buffers: Uint8Array[];
  bytes: number;
  position: number;
  /** Bytes that are final when written; false while a local header before them awaits its patch. */
  hash: boolean;
  /** A header rewrite at `position`, after which the unhashed stretch is read back and hashed. */
  patch?: { resumeFrom: number; end: number };
}

const READ_BACK_BYTES = 1 << 20;

/**
 * Sequential output with positional writes, a SHA-256 taken as the bytes become final, and backpressure.
 * Writes go out in order from one queue. A large file's local header is written as a placeholder and patched
 * once its CRC and compressed size are known; the bytes after a placeholder are hashed by reading them back
 * after the patch (from the page cache), so the digest always covers exactly what is on disk.
 */
export class OutputFile {
  private position = 0;
  private writtenEnd = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private queue: Step[] = [];
  private running = false;
  private queuedBytes = 0;
  private pausedAt: number | null = null;
  private failure: Error | null = null;
  private idle: (() => void) | null = null;
  private readonly hash: Hash = createHash('sha256');

  constructor(
    private readonly fh: FileHandle,
    private readonly flushBytes: number,
    /** Called when a write completes, so the producer can dispatch more work. */
    private readonly onDrain: () => void,
  ) {}

  get offset(): number {
    return this.position;
  }

  /** Bytes handed over but not yet on disk: the producer stops dispatching above a limit. */
  get backlog(): number {
    return this.queuedBytes + this.pendingBytes;
  }

  /** Everything before this offset is on disk (patches aside). */
  get written(): number {
    return this.writtenEnd;
  }

  get error(): Error | null {
    return this.failure;
  }

  append(b: Uint8Array): void {
    if (b.length === 0) return;
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.position += b.length;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  /** The next appended bytes start a header that will be patched: stop hashing until then. */
  beginPatchable(): void {
    this.flush();
    this.pausedAt = this.position;
  }

  patch(header: Uint8Array, at: number): void {
    this.flush();
    const resumeFrom = this.pausedAt ?? at;
    this.pausedAt = null;
    this.enqueue({
      buffers: [header],
      bytes: header.length,
      position: at,
      hash: false,
      patch: { resumeFrom, end: this.position },
    });
  }

  flush(): void {
    if (this.pendingBytes === 0) return;
    const bytes = this.pendingBytes;
    // Handed to writev as they are (libuv splits past IOV_MAX): copying into one buffer per flush would
    // leave a megabyte of garbage each time, and garbage is what drives peak RSS here.
    this.enqueue({
      buffers: this.pending,
      bytes,
      position: this.position - bytes,
      hash: this.pausedAt === null,
    });
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes everything, closes nothing; returns the hex SHA-256 of the file. */
  async finish(): Promise<string> {
    this.flush();
    if (this.running || this.queue.length > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    if (this.failure) throw this.failure;
    return this.hash.digest('hex');
  }

  private enqueue(step: Step): void {
    if (step.patch === undefined) this.queuedBytes += step.bytes;
    this.queue.push(step);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let step = this.queue.shift(); step; step = this.queue.shift()) {
        if (this.failure) continue;
        try {
          await writeAll(this.fh, step.buffers, step.position);
          if (step.hash) for (const b of step.buffers) this.hash.update(b);
          if (step.patch) await this.readBack(step.patch.resumeFrom, step.patch.end);
        } catch (e) {
          this.failure = e instanceof Error ? e : new Error(String(e));
        }
        if (step.patch === undefined) {
          this.queuedBytes -= step.bytes;
          this.writtenEnd = step.position + step.bytes;
        }
        this.onDrain();
      }
    } finally {
      this.running = false;
      const idle = this.idle;
      this.idle = null;
      idle?.();
    }
  }

  private async readBack(from: number, to: number): Promise<void> {
    const buf = Buffer.allocUnsafe(Math.min(READ_BACK_BYTES, Math.max(1, to - from)));
    for (let at = from; at < to; ) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, to - at), at);
      if (bytesRead === 0) throw new Error(`short read at ${at} while hashing the package`);
      this.hash.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
  }
}

async function writeAll(fh: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let bufs = buffers;
  let at = position;
  for (;;) {
    const { bytesWritten } = await fh.writev(bufs, at);
    let total = 0;
    for (const b of bufs) total += b.length;
    if (bytesWritten === total) return;
    // A short write (rare on regular files): continue from the first byte not written.
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    bufs = rest;
  }
}
