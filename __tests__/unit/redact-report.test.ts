import { describe, expect, it } from 'vitest';
import { BACKUP_SCHEMA, backupDocument, type RunInfo } from '../../src/documents.js';
import { redactSas, sasExpiry, sha256Hex, stripQuery } from '../../src/redact.js';
import { outputsOf, summaryMarkdown } from '../../src/report.js';
import type { RunResult } from '../../src/result.js';
import { sasExpiryWarning } from '../../src/settings.js';

const SIG = 'c2VjcmV0LXNpZ25hdHVyZQ%3D%3D';
const URL_VALUE = `https://acct.blob.core.windows.net/deployments/2026/app.zip?sv=2025-01-05&st=2026-01-01T00%3A00%3A00Z&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=r&spr=https&sig=${SIG}`;
const noRun: RunInfo = {
  id: undefined,
  attempt: undefined,
  workflow: undefined,
  repository: undefined,
  sha: undefined,
  actor: undefined,
  event: undefined,
};

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

describe('sasExpiryWarning', () => {
  const at = (iso: string) => new Date(iso);
  it.each([
    ['2026-10-01T00:00:00Z', undefined],
    ['2026-11-15T00:00:00Z', /expires on 2026-12-01T00:00:00.000Z \(in 16 days\)/],
    ['2026-12-02T00:00:00Z', /expired on 2026-12-01T00:00:00.000Z/],
  ] as const)('at %s', (now, expected) => {
    const warning = sasExpiryWarning(URL_VALUE, 'The URL', at(now));
    if (expected === undefined) expect(warning).toBeUndefined();
    else expect(warning).toMatch(expected);
  });
  it('says nothing for a URL without a SAS', () => {
    expect(sasExpiryWarning(stripQuery(URL_VALUE), 'x', at('2026-11-30T00:00:00Z'))).toBeUndefined();
  });
});

describe('backupDocument', () => {
  it('holds a redacted value, the hash of the full one, and the blob', () => {
    const doc = backupDocument({
      target: { app: 'a', resourceGroup: 'rg', subscriptionId: 's', slot: undefined },
      setting: 'WEBSITE_RUN_FROM_PACKAGE',
      previousValue: URL_VALUE,
      companions: {},
      reason: 'r',
      deploymentId: 'd',
      run: { ...noRun, id: '1', sha: 'abc' },
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
    expect(doc.run.id).toBe('1');
  });

  it('reads path-style (emulator) URLs', () => {
    const doc = backupDocument({
      target: { app: 'a', resourceGroup: undefined, subscriptionId: undefined, slot: 's' },
      setting: 'WEBSITE_RUN_FROM_ZIP',
      previousValue: `https://127.0.0.1:10000/devstoreaccount1/c/x.zip?sig=${SIG}`,
      companions: {},
      reason: 'r',
      deploymentId: 'd',
      run: noRun,
      now: new Date(0),
    });
    expect(doc.blob).toMatchObject({ account: 'devstoreaccount1', container: 'c', name: 'x.zip' });
    expect(doc.setting).toBe('WEBSITE_RUN_FROM_ZIP');
  });
});

describe('report', () => {
  const result: RunResult = {
    app: 'app',
    slot: undefined,
    resourceGroup: 'rg',
    status: 'succeeded',
    restoration: undefined,
    mode: 'run-from-package',
    hosting: 'consumption',
    reasons: ['because'],
    deploymentId: 'd1',
    previousPackage: URL_VALUE,
    newPackage: URL_VALUE,
    packageUrl: stripQuery(URL_VALUE),
    packageSha256: 'ab',
    packageSize: 2048,
    packageFileCount: 3,
    packageReused: false,
    templatePath: undefined,
    sasExpiresAt: undefined,
    kuduDeploymentId: undefined,
    functions: ['Hello'],
    backupArtifact: undefined,
    recordArtifact: undefined,
    appUrl: undefined,
    warnings: [],
    timingsMs: { upload: 1500 },
    error: undefined,
    operation: 'deploy',
    rotated: undefined,
    drift: undefined,
    check: undefined,
  };

  it('outputs and summary come from one result and never carry a signature', () => {
    const outputs = outputsOf(result);
    expect(outputs).toEqual({
      mode: 'run-from-package',
      'mode-reason': 'because',
      'package-url': stripQuery(URL_VALUE),
      'package-sha256': 'ab',
      'package-size': '2048',
      'package-reused': 'false',
      'deployment-id': 'd1',
      functions: '["Hello"]',
      'previous-package': redactSas(URL_VALUE),
    });
    const md = summaryMarkdown(result);
    for (const text of [JSON.stringify(outputs), md]) expect(text).not.toContain(SIG);
    expect(md).toContain('| upload | 1.50 |');
    expect(md).toContain('✅ deployed');
  });

  it.each([
    ['restored', 'previous package restored'],
    ['restored-restart-refused', 'restart was refused'],
    ['not-restored', 'NOT restored: restore by hand'],
    ['not-attempted', 'rollback-on-failure off'],
    ['nothing-changed', 'nothing was changed'],
  ] as const)('a failure headline follows what the restore did: %s', (outcome, text) => {
    const md = summaryMarkdown({
      ...result,
      status: 'failed',
      error: 'boom',
      restoration: { outcome, detail: `detail of ${outcome}` },
    });
    expect(md).toContain(text);
    expect(md).toContain(`| Restore | detail of ${outcome} |`);
  });

  it('a failure before any write says nothing was changed', () => {
    expect(summaryMarkdown({ ...result, status: 'failed', error: 'boom' })).toContain(
      '❌ failed, nothing was changed',
    );
  });
});

describe('a hand-edited setting with a malformed escape', () => {
  it('neither the expiry nor the masking throws', async () => {
    const { sasSignatures } = await import('../../src/redact.js');
    const bad = 'https://a.blob.core.windows.net/c/x.zip?se=%zz&sig=%zzsecret';
    expect(sasExpiry(bad)).toBeUndefined();
    expect(sasSignatures(bad)).toEqual(['%zzsecret', '%zzsecret']);
  });
});
