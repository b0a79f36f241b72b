import { describe, expect, it } from 'vitest';
import { BACKUP_SCHEMA, backupDocument } from '../../src/backup.js';
import { redactSas, sasExpiry, sha256Hex, stripQuery } from '../../src/redact.js';
import { emptyResult, outputsOf, summaryMarkdown } from '../../src/report.js';

const SIG = 'c2VjcmV0LXNpZ25hdHVyZQ%3D%3D';
const URL_VALUE = `https://acct.blob.core.windows.net/deployments/2026/app.zip?sv=2025-01-05&st=2026-01-01T00%3A00%3A00Z&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=r&spr=https&sig=${SIG}`;

describe('redaction', () => {
  it('removes the signature and only the signature', () => {
    const red = redactSas(`value ${URL_VALUE} end`);
    expect(red).not.toContain(SIG);
    expect(red).toContain('sig=REDACTED end');
    expect(red).toContain('se=2026-12-01');
    expect(stripQuery(URL_VALUE)).toBe('https://acct.blob.core.windows.net/deployments/2026/app.zip');
    expect(sasExpiry(URL_VALUE)?.toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });
});

describe('backupDocument', () => {
  it('holds a redacted value, the hash of the full one, and the blob', () => {
    const doc = backupDocument({
      target: { app: 'a', resourceGroup: 'rg', subscriptionId: 's', slot: undefined },
      previousValue: URL_VALUE,
      companions: {},
      reason: 'r',
      deploymentId: 'd',
      run: {
        id: '1',
        attempt: '1',
        workflow: 'w',
        repository: 'o/r',
        sha: 'abc',
        actor: 'me',
        event: 'push',
      },
      now: new Date(0),
    });
    expect(doc.schema).toBe(BACKUP_SCHEMA);
    expect(JSON.stringify(doc)).not.toContain(SIG);
    expect(doc.previousValueSha256).toBe(sha256Hex(URL_VALUE));
    expect(doc.blob).toEqual({
      url: stripQuery(URL_VALUE),
      account: 'acct',
      container: 'deployments',
      name: '2026/app.zip',
    });
    expect(doc.sasExpiresAt).toBe('2026-12-01T00:00:00.000Z');
  });

  it('reads path-style (emulator) URLs', () => {
    const doc = backupDocument({
      target: { app: 'a', resourceGroup: undefined, subscriptionId: undefined, slot: 's' },
      previousValue: `https://127.0.0.1:10000/devstoreaccount1/c/x.zip?sig=${SIG}`,
      companions: {},
      reason: 'r',
      deploymentId: 'd',
      run: {
        id: undefined,
        attempt: undefined,
        workflow: undefined,
        repository: undefined,
        sha: undefined,
        actor: undefined,
        event: undefined,
      },
      now: new Date(0),
    });
    expect(doc.blob).toMatchObject({ account: 'devstoreaccount1', container: 'c', name: 'x.zip' });
  });
});

describe('report', () => {
  it('outputs and summary come from one result and never carry a signature', () => {
    const r = {
      ...emptyResult('app'),
      mode: 'run-from-package',
      reasons: ['because'],
      deploymentId: 'd1',
      previousPackage: URL_VALUE,
      newPackage: URL_VALUE,
      packageUrl: stripQuery(URL_VALUE),
      packageSha256: 'ab',
      packageSize: 2048,
      functions: ['Hello'],
      timingsMs: { upload: 1500 },
    };
    const outputs = outputsOf(r);
    expect(outputs).toMatchObject({
      mode: 'run-from-package',
      'mode-reason': 'because',
      functions: '["Hello"]',
      'package-reused': 'false',
    });
    const md = summaryMarkdown(r);
    for (const text of [JSON.stringify(outputs), md]) expect(text).not.toContain(SIG);
    expect(md).toContain('| upload | 1.50 |');
    expect(md).toContain('✅ deployed');
    expect(summaryMarkdown({ ...r, error: 'boom', rolledBack: true })).toContain('previous package restored');
  });
});
