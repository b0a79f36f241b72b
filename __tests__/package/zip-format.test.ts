import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine, dosDateTime, encodeEnd, normalizeMode } from '../../src/package/zip-format.js';

describe('dosDateTime', () => {
  it.each([
    // 2024-02-29T13:45:58Z
    [1709214358, { y: 2024, mo: 2, d: 29, h: 13, mi: 45, s: 58 }],
    // odd seconds round down: DOS time has 2-second resolution
    [1709214359, { y: 2024, mo: 2, d: 29, h: 13, mi: 45, s: 58 }],
    // 1980-01-01T00:00:00Z, the default
    [315532800, { y: 1980, mo: 1, d: 1, h: 0, mi: 0, s: 0 }],
    // before 1980 (SOURCE_DATE_EPOCH=0) clamps to the first DOS instant
    [0, { y: 1980, mo: 1, d: 1, h: 0, mi: 0, s: 0 }],
    // after 2107 clamps to the last
    [5000000000, { y: 2107, mo: 12, d: 31, h: 23, mi: 59, s: 58 }],
  ])('encodes %i in UTC', (epoch, want) => {
    const { date, time } = dosDateTime(epoch);
    expect({
      y: (date >> 9) + 1980,
      mo: (date >> 5) & 15,
      d: date & 31,
      h: time >> 11,
      mi: (time >> 5) & 63,
      s: (time & 31) * 2,
    }).toEqual(want);
  });

  it('does not depend on TZ', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Pacific/Kiritimati';
      const east = dosDateTime(1709214358);
      process.env.TZ = 'America/Adak';
      const west = dosDateTime(1709214358);
      expect(new Date(1709214358000).getHours()).not.toBe(13); // the zone really changed
      expect(east).toEqual(west);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('normalizeMode', () => {
  it.each([
    [0o100600, 0o100644],
    [0o100664, 0o100644],
    [0o100700, 0o100755],
    [0o100745, 0o100755],
    [0o100001, 0o100755],
  ])('%o -> %o', (mode, want) => expect(normalizeMode(mode)).toBe(want));
});

describe('crc32Combine', () => {
  it('gives the CRC of the concatenation', () => {
    for (const [la, lb] of [
      [0, 10],
      [10, 0],
      [1, 1],
      [1000, 65537],
      [70000, 3],
    ] as const) {
      const a = randomBytes(la);
      const b = randomBytes(lb);
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    }
  });
});

describe('encodeEnd', () => {
  it('writes the classic record alone below the limits', () => {
    const b = encodeEnd(65534, 1000, 200);
    expect(b.length).toBe(22);
    expect(b.readUInt16LE(10)).toBe(65534);
  });

  it('adds ZIP64 records and never a wrapped count from 65,535 entries', () => {
    const b = encodeEnd(70070, 1000, 200);
    expect(b.length).toBe(56 + 20 + 22);
    expect(b.readUInt32LE(0)).toBe(0x06064b50);
    expect(Number(b.readBigUInt64LE(32))).toBe(70070);
    expect(b.readUInt32LE(56)).toBe(0x07064b50);
    expect(Number(b.readBigUInt64LE(56 + 8))).toBe(1200); // the ZIP64 end record's offset
    const eocd = b.subarray(76);
    expect(eocd.readUInt16LE(8)).toBe(0xffff);
    expect(eocd.readUInt16LE(10)).toBe(0xffff);
    expect(eocd.readUInt32LE(16)).toBe(1000); // offset fits: kept
  });

  it('uses ZIP64 for a central directory past 4 GiB', () => {
    const b = encodeEnd(3, 2 ** 32 + 5, 100);
    expect(Number(b.readBigUInt64LE(48))).toBe(2 ** 32 + 5);
    expect(b.subarray(76).readUInt32LE(16)).toBe(0xffffffff);
    expect(b.subarray(76).readUInt16LE(10)).toBe(3);
  });
});
