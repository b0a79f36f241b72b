import { describe, expect, it } from 'vitest';
import { packagesToDelete } from '../../src/retention.js';

describe('packagesToDelete (retention)', () => {
  const now = new Date('2026-11-21T00:00:00Z');
  const day = (n: number) => new Date(now.getTime() - n * 86_400_000);
  const pkgs = [
    { blobName: 'd5/app.zip', deployedAt: day(1) },
    { blobName: 'd1/app.zip', deployedAt: day(200) },
    { blobName: 'd4/app.zip', deployedAt: day(10) },
    { blobName: 'd3/app.zip', deployedAt: day(30) },
    { blobName: 'd2/app.zip', deployedAt: day(100) },
  ];
  it.each([
    ['keep 10, 90 days: only what is older than 90 days', 10, 90, [], ['d2/app.zip', 'd1/app.zip']],
    ['keep 2, 365 days: beyond the 2 newest', 2, 365, [], ['d3/app.zip', 'd2/app.zip', 'd1/app.zip']],
    [
      'keep 1, the live package is old but protected',
      1,
      90,
      ['d1/app.zip'],
      ['d4/app.zip', 'd3/app.zip', 'd2/app.zip'],
    ],
    [
      'keep 1, a protected package in the middle stays',
      1,
      365,
      ['d3/app.zip'],
      ['d4/app.zip', 'd2/app.zip', 'd1/app.zip'],
    ],
    ['keep 10, 1000 days: nothing', 10, 1000, [], []],
  ] as const)('%s', (_n, keep, maxAgeDays, protect, expected) => {
    expect(packagesToDelete(pkgs, { keep, maxAgeDays, protect: [...protect], now })).toEqual(expected);
  });

  it('orders by deployment time to the millisecond, whatever the names say', () => {
    const at = (ms: number) => new Date(now.getTime() - 5000 + ms);
    const sameSecond = [
      { blobName: 'c/app.zip', deployedAt: at(100) },
      { blobName: 'a/app.zip', deployedAt: at(900) },
      { blobName: 'b/app.zip', deployedAt: at(500) },
    ];
    expect(packagesToDelete(sameSecond, { keep: 2, maxAgeDays: 90, protect: [], now })).toEqual([
      'c/app.zip',
    ]);
  });

  it('a package of unknown time counts as oldest for the count, and is never old enough by age', () => {
    const mixed = [
      { blobName: 'old/app.zip', deployedAt: undefined },
      { blobName: 'new/app.zip', deployedAt: day(1) },
    ];
    expect(packagesToDelete(mixed, { keep: 10, maxAgeDays: 1, protect: [], now })).toEqual([]);
    expect(packagesToDelete(mixed, { keep: 1, maxAgeDays: 90, protect: [], now })).toEqual(['old/app.zip']);
  });
});
