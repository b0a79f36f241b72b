// archiver 8 (ESM, a class per format) ships no types and @types/archiver is not installed: the little the bench uses.
declare module 'archiver' {
  import type { Writable } from 'node:stream';

  export class ZipArchive {
    constructor(options: { zlib: { level: number } });
    on(event: 'entry', cb: () => void): this;
    on(event: 'error', cb: (e: Error) => void): this;
    pipe(w: Writable): void;
    directory(dir: string, dest: false | string): this;
    finalize(): Promise<void>;
  }
}
