import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { getInputs, parseDuration, parsePublishProfile } from '../../src/inputs.js';

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('getInputs', () => {
  it('applies the defaults of action.yml', () => {
    const inputs = getInputs(reader({ 'app-name': 'my-func' }));
    expect(inputs).toMatchObject({
      appName: 'my-func',
      slot: undefined,
      packagePath: '.',
      deployMode: 'auto',
      onConflict: 'backup-and-replace',
      packageAccess: 'sas',
      storageContainer: 'deployments',
      compressionLevel: 4,
      restart: true,
      dryRun: false,
      timeoutMs: 20 * 60_000,
      retainPackages: 10,
      retainDays: 90,
    });
    expect(inputs.sasExpiryMs).toBe(365 * 86_400_000);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['missing app-name', {}, /'app-name' is required/],
    ['app-name as URL', { 'app-name': 'https://x.azurewebsites.net' }, /not a valid Function App name/],
    ['app-name ending in a hyphen', { 'app-name': 'orders-' }, /not a valid Function App name: 'orders-'/],
    [
      'rollback-to with operation status',
      { 'app-name': 'a', operation: 'status', 'rollback-to': 'r1' },
      /'rollback-to' belongs to operation deploy, not status/,
    ],
    [
      'unknown operation',
      { 'app-name': 'a', operation: 'delete' },
      /'operation' must be one of 'deploy', 'rotate-sas', 'status'/,
    ],
    ['unknown deploy-mode', { 'app-name': 'a', 'deploy-mode': 'ftp' }, /'deploy-mode' must be one of/],
    ['unknown on-conflict', { 'app-name': 'a', 'on-conflict': 'ignore' }, /'on-conflict'/],
    ['sas-expiry over 10 years', { 'app-name': 'a', 'sas-expiry': '11y' }, /exceeds 10 years/],
    ['sas-expiry garbage', { 'app-name': 'a', 'sas-expiry': 'forever' }, /invalid duration/],
    [
      'compression level 12',
      { 'app-name': 'a', 'compression-level': '12' },
      /'compression-level' must be an integer from 0 to 9/,
    ],
    ['bad boolean', { 'app-name': 'a', 'dry-run': 'maybe' }, /'dry-run' must be true or false/],
    ['bad container', { 'app-name': 'a', 'storage-container': 'Deploy_Here' }, /not a valid container name/],
    ['bad subscription', { 'app-name': 'a', 'subscription-id': 'my sub' }, /subscription GUID/],
    ['http endpoint', { 'app-name': 'a', 'resource-manager-endpoint': 'http://x' }, /https URL/],
    [
      'profile + rfp',
      {
        'app-name': 'a',
        'publish-profile':
          '<publishData><publishProfile publishMethod="ZipDeploy" publishUrl="a.scm.x:443" userName="$a" userPWD="p" /></publishData>',
        'deploy-mode': 'run-from-package',
      },
      /zipdeploy only/,
    ],
  ];
  it.each(bad)('%s is an InputError naming the input', (_n, values, message) => {
    expect(() => getInputs(reader(values))).toThrow(InputError);
    expect(() => getInputs(reader(values))).toThrow(message);
  });

  it('treats slot production as the production app and splits exclude lines', () => {
    const inputs = getInputs(
      reader({ 'app-name': 'a', 'slot-name': 'Production', exclude: 'tests/\n# comment\n\n*.md\n' }),
    );
    expect(inputs.slot).toBeUndefined();
    expect(inputs.exclude).toEqual(['tests/', '*.md']);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['20m', 1_200_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['30', 30_000],
  ])('%s', (value, ms) => expect(parseDuration(value, 'timeout')).toBe(ms));
});

describe('parsePublishProfile', () => {
  it('reads the ZipDeploy profile', () => {
    const xml = `<publishData><publishProfile profileName="a - Web Deploy" publishMethod="MSDeploy" publishUrl="a.scm.azurewebsites.net:443" msdeploySite="a" userName="$a" userPWD="p&amp;w" /></publishData>`;
    expect(parsePublishProfile(xml)).toEqual({
      scmUrl: 'https://a.scm.azurewebsites.net',
      userName: '$a',
      password: 'p&w',
      siteName: 'a',
    });
  });
  it('rejects something else without echoing it', () => {
    let message = '';
    try {
      parsePublishProfile('secret-looking-text');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/not a publish profile/);
    expect(message).not.toContain('secret-looking-text');
  });
});
