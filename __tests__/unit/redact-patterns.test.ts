import { describe, expect, it } from 'vitest';
import { redactSas, sasExpiry, sasSignatures, sha256Hex, stripQuery } from '../../src/redact.js';

// The redaction patterns, one row per form a SAS signature takes in text.

const BLOB = 'https://acct.blob.core.windows.net/deployments/app.zip';

describe('redactSas', () => {
  it.each([
    [`${BLOB}?sv=2025&sig=abc%2Bdef%3D`, `${BLOB}?sv=2025&sig=REDACTED`],
    [`${BLOB}?sig=abc&sv=2025`, `${BLOB}?sig=REDACTED&sv=2025`],
    [`${BLOB}?sv=1&SIG=abc`, `${BLOB}?sv=1&SIG=REDACTED`],
    [`<a href="${BLOB}?sv=1&amp;sig=abc">x</a>`, `<a href="${BLOB}?sv=1&amp;sig=REDACTED">x</a>`],
    [`'${BLOB}?sig=abc'`, `'${BLOB}?sig=REDACTED'`],
    [`<${BLOB}?sig=abc>`, `<${BLOB}?sig=REDACTED>`],
    [`${BLOB}?sig=abc next`, `${BLOB}?sig=REDACTED next`],
    [`a ${BLOB}?sig=one b ${BLOB}?sig=two`, `a ${BLOB}?sig=REDACTED b ${BLOB}?sig=REDACTED`],
    [`${BLOB}?sv=1&xsig=abc`, `${BLOB}?sv=1&xsig=abc`],
    [`${BLOB}?sig=`, `${BLOB}?sig=`],
    ['sig=abc without a query', 'sig=abc without a query'],
  ])('%s', (text, expected) => {
    expect(redactSas(text)).toBe(expected);
  });
});

describe('stripQuery', () => {
  it.each([
    [`${BLOB}?sv=1&sig=abc`, BLOB],
    [`${BLOB}#frag?sig=abc`, BLOB],
    [BLOB, BLOB],
    ['', ''],
  ])('%s', (url, expected) => {
    expect(stripQuery(url)).toBe(expected);
  });
});

describe('sasExpiry', () => {
  it.each([
    [`${BLOB}?sv=1&se=2026-12-01T00%3A00%3A00Z&sig=x`, '2026-12-01T00:00:00.000Z'],
    [`${BLOB}?se=2026-12-01&sig=x`, '2026-12-01T00:00:00.000Z'],
    [`${BLOB}?SE=2026-12-01T10:00:00Z`, '2026-12-01T10:00:00.000Z'],
  ])('%s expires at %s', (url, iso) => {
    expect(sasExpiry(url)?.toISOString()).toBe(iso);
  });

  it.each([BLOB, `${BLOB}?se=&sig=x`, `${BLOB}?se=soon&sig=x`, `${BLOB}?sse=2026-12-01`])(
    '%s has no expiry',
    (url) => {
      expect(sasExpiry(url)).toBeUndefined();
    },
  );
});

describe('sasSignatures', () => {
  it('gives each signature as written and decoded, for masking', () => {
    expect(sasSignatures(`${BLOB}?sv=1&sig=abc%2Bd%3D&x=1`)).toEqual(['abc%2Bd%3D', 'abc+d=']);
    expect(sasSignatures(`${BLOB}?SIG=one ${BLOB}?sv=1&sig=two`)).toEqual(['one', 'one', 'two', 'two']);
  });

  it('finds none in a URL without a SAS', () => {
    expect(sasSignatures(BLOB)).toEqual([]);
    expect(sasSignatures(`${BLOB}?sv=1&xsig=abc`)).toEqual([]);
  });
});

describe('sha256Hex', () => {
  it('is the hex SHA-256 of a string or of bytes', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(Buffer.from('abc'))).toBe(abc);
  });
});
