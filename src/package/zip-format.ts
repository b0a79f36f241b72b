/**
 * ZIP record encoders (APPNOTE 6.3.x). Pure functions over numbers and bytes, so the writer's I/O and the
 * format can be tested apart. Sizes and offsets are JS numbers: exact up to 2^53, far beyond any package.
 */

export const LOCAL_HEADER_SIG = 0x04034b50;
export const CENTRAL_HEADER_SIG = 0x02014b50;
export const EOCD_SIG = 0x06054b50;
export const ZIP64_EOCD_SIG = 0x06064b50;
export const ZIP64_LOCATOR_SIG = 0x07064b50;

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;

/** Bit 11: names are UTF-8. Set on every entry so non-ASCII names survive on every reader. */
export const FLAG_UTF8 = 0x0800;

const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
/** Unix (3) in the high byte, so readers (.NET included) take the permissions from the external attributes. */
const MADE_BY_UNIX = (3 << 8) | 45;
const ZIP64_EXTRA_ID = 0x0001;

export interface DosDateTime {
  date: number;
  time: number;
}

/**
 * DOS date/time from epoch seconds, computed in UTC so the bytes do not depend on the runner's TZ.
 * The DOS range is 1980-01-01 to 2107-12-31; earlier instants (SOURCE_DATE_EPOCH=0 is common) clamp to its start.
 */
export function dosDateTime(epochSeconds: number): DosDateTime {
  const d = new Date(Math.floor(epochSeconds) * 1000);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(epochSeconds) || year < 1980) return { date: (1 << 5) | 1, time: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29 };
  return {
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

/** Regular file with the executable bit kept (any x bit makes it 0755) and everything else normalized. */
export function normalizeMode(mode: number): number {
  return mode & 0o111 ? 0o100755 : 0o100644;
}

export interface EntryRecord {
  name: Buffer;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Offset of the local header in the archive. */
  offset: number;
  mode: number;
  /** The local header carries a ZIP64 extra (decided before the data is written, so it is recorded). */
  zip64Local: boolean;
}

function needsZip64Central(
  e: EntryRecord,
  force: boolean,
): { size: boolean; csize: boolean; offset: boolean } {
  return {
    size: force || e.size >= MAX32,
    csize: force || e.compressedSize >= MAX32,
    offset: force || e.offset >= MAX32,
  };
}

function versionNeeded(method: number, zip64: boolean): number {
  if (zip64) return 45;
  return method === METHOD_DEFLATE ? 20 : 10;
}

/** Local file header. With `zip64Local` both sizes go to the ZIP64 extra, as APPNOTE 4.5.3 requires. */
export function encodeLocalHeader(e: EntryRecord, dos: DosDateTime): Buffer {
  const extraLen = e.zip64Local ? 20 : 0;
  const b = headerBuffer(30 + e.name.length + extraLen);
  b.writeUInt32LE(LOCAL_HEADER_SIG, 0);
  b.writeUInt16LE(versionNeeded(e.method, e.zip64Local), 4);
  b.writeUInt16LE(FLAG_UTF8, 6);
  b.writeUInt16LE(e.method, 8);
  b.writeUInt16LE(dos.time, 10);
  b.writeUInt16LE(dos.date, 12);
  b.writeUInt32LE(e.crc >>> 0, 14);
  b.writeUInt32LE(e.zip64Local ? MAX32 : e.compressedSize, 18);
  b.writeUInt32LE(e.zip64Local ? MAX32 : e.size, 22);
  b.writeUInt16LE(e.name.length, 26);
  b.writeUInt16LE(extraLen, 28);
  e.name.copy(b, 30);
  if (e.zip64Local) {
    const x = 30 + e.name.length;
    b.writeUInt16LE(ZIP64_EXTRA_ID, x);
    b.writeUInt16LE(16, x + 2);
    writeU64(b, e.size, x + 4);
    writeU64(b, e.compressedSize, x + 12);
  }
  return b;
}

export function localHeaderLength(nameLength: number, zip64Local: boolean): number {
  return 30 + nameLength + (zip64Local ? 20 : 0);
}

/** Central directory header; the ZIP64 extra holds only the fields whose fixed slot says 0xFFFFFFFF. */
export function encodeCentralHeader(e: EntryRecord, dos: DosDateTime, forceZip64 = false): Buffer {
  const z = needsZip64Central(e, forceZip64);
  const extraData = (z.size ? 8 : 0) + (z.csize ? 8 : 0) + (z.offset ? 8 : 0);
  const extraLen = extraData > 0 ? 4 + extraData : 0;
  const b = headerBuffer(46 + e.name.length + extraLen);
  b.writeUInt32LE(CENTRAL_HEADER_SIG, 0);
  b.writeUInt16LE(MADE_BY_UNIX, 4);
  b.writeUInt16LE(versionNeeded(e.method, extraLen > 0 || e.zip64Local), 6);
  b.writeUInt16LE(FLAG_UTF8, 8);
  b.writeUInt16LE(e.method, 10);
  b.writeUInt16LE(dos.time, 12);
  b.writeUInt16LE(dos.date, 14);
  b.writeUInt32LE(e.crc >>> 0, 16);
  b.writeUInt32LE(z.csize ? MAX32 : e.compressedSize, 20);
  b.writeUInt32LE(z.size ? MAX32 : e.size, 24);
  b.writeUInt16LE(e.name.length, 28);
  b.writeUInt16LE(extraLen, 30);
  // comment length, disk number start, internal attributes: 0
  b.writeUInt32LE((e.mode << 16) >>> 0, 38);
  b.writeUInt32LE(z.offset ? MAX32 : e.offset, 42);
  e.name.copy(b, 46);
  if (extraLen > 0) {
    let x = 46 + e.name.length;
    b.writeUInt16LE(ZIP64_EXTRA_ID, x);
    b.writeUInt16LE(extraData, x + 2);
    x += 4;
    // APPNOTE order: original size, compressed size, local header offset.
    if (z.size) x = writeU64(b, e.size, x);
    if (z.csize) x = writeU64(b, e.compressedSize, x);
    if (z.offset) writeU64(b, e.offset, x);
  }
  return b;
}

/**
 * End records. More than 65,534 entries, or a directory size/offset at 4 GiB or more, adds the ZIP64 end
 * record and locator and sets the overflowing classic fields to their all-ones sentinel: a wrapped count
 * (70,070 → 4,534) makes .NET's ZipArchive, which Kudu and the Functions host use, reject the archive.
 */
export function encodeEnd(count: number, cdOffset: number, cdSize: number, forceZip64 = false): Buffer {
  const countOver = forceZip64 || count >= MAX16;
  const offsetOver = forceZip64 || cdOffset >= MAX32;
  const sizeOver = forceZip64 || cdSize >= MAX32;
  const zip64 = countOver || offsetOver || sizeOver;
  const parts: Buffer[] = [];
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(ZIP64_EOCD_SIG, 0);
    writeU64(rec, 44, 4); // size of the remaining record
    rec.writeUInt16LE(MADE_BY_UNIX, 12);
    rec.writeUInt16LE(45, 14);
    // this disk, disk with the central directory: 0
    writeU64(rec, count, 24);
    writeU64(rec, count, 32);
    writeU64(rec, cdSize, 40);
    writeU64(rec, cdOffset, 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(ZIP64_LOCATOR_SIG, 0);
    writeU64(loc, cdOffset + cdSize, 8);
    loc.writeUInt32LE(1, 16);
    parts.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(EOCD_SIG, 0);
  eocd.writeUInt16LE(countOver ? MAX16 : count, 8);
  eocd.writeUInt16LE(countOver ? MAX16 : count, 10);
  eocd.writeUInt32LE(sizeOver ? MAX32 : cdSize, 12);
  eocd.writeUInt32LE(offsetOver ? MAX32 : cdOffset, 16);
  parts.push(eocd);
  return Buffer.concat(parts);
}

/**
 * Headers come from Node's shared 8 KB pool (allocUnsafe) rather than one ArrayBuffer each (alloc): tens of
 * thousands of tiny ArrayBuffers are costly garbage. Zeroed here, so unset fields are 0.
 */
function headerBuffer(length: number): Buffer {
  return Buffer.allocUnsafe(length).fill(0);
}

function writeU64(b: Buffer, value: number, at: number): number {
  b.writeBigUInt64LE(BigInt(value), at);
  return at + 8;
}

// CRC-32 combination (zlib's crc32_combine, the x^(8n) mod p method): a file deflated in independent
// chunks gets its whole-file CRC from the chunks' CRCs without holding or re-reading the data.
const CRC_POLY = 0xedb88320;

function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ CRC_POLY : b >>> 1;
  }
  return p >>> 0;
}

const X2N_TABLE: number[] = (() => {
  const t: number[] = [];
  let p = 0x40000000; // x^1
  t.push(p);
  for (let n = 1; n < 32; n++) {
    p = multModP(p, p);
    t.push(p);
  }
  return t;
})();

function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N_TABLE[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** CRC-32 of A‖B given crc(A), crc(B) and len(B). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
