import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  checkProfileTarget,
  getInputs,
  MAX_SAS_EXPIRY_MS,
  type PublishProfile,
  parseDuration,
  parsePublishProfile,
} from '../../src/inputs.js';

// Exact values, boundaries and messages of input parsing: each row is one rule of src/inputs.ts.

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';
const inputs = (values: Record<string, string>) => getInputs(reader({ 'app-name': 'my-func', ...values }));

/** The InputError `f` throws; fails the test when it throws nothing or something else. */
function inputError(f: () => unknown): InputError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  return caught as InputError;
}

const profileXml = (attrs: string) => `<publishData><publishProfile ${attrs} /></publishData>`;
const ZIP_PROFILE = profileXml(
  'profileName="my-func - Zip Deploy" publishMethod="ZipDeploy" publishUrl="my-func.scm.azurewebsites.net:443" msdeploySite="my-func" userName="$my-func" userPWD="pw"',
);
const GUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('getInputs: every default of action.yml', () => {
  // Every input field, each checked exactly (toMatchObject so that a new input needs no change here).
  it('a lone app-name gives these inputs', () => {
    expect(getInputs(reader({ 'app-name': 'my-func' }))).toMatchObject({
      appName: 'my-func',
      resourceGroup: undefined,
      subscriptionId: undefined,
      slot: undefined,
      packagePath: '.',
      deployMode: 'auto',
      onConflict: 'backup-and-replace',
      packageAccess: 'sas',
      managedIdentityResourceId: 'SystemAssigned',
      sasExpiryMs: 365 * 86_400_000,
      storageAccount: undefined,
      storageConnectionString: undefined,
      storageContainer: 'deployments',
      deploymentId: undefined,
      publishProfile: undefined,
      exclude: [],
      compressionLevel: 4,
      restart: true,
      syncTriggers: true,
      verify: true,
      rollbackOnFailure: true,
      rollbackTo: undefined,
      remoteBuild: 'auto',
      retainPackages: 10,
      retainDays: 90,
      dryRun: false,
      timeoutMs: 20 * 60_000,
      resourceManagerEndpoint: undefined,
    });
  });

  it('trims every value it keeps', () => {
    const got = getInputs(
      reader({
        'app-name': ' my-func ',
        'resource-group': ' rg ',
        'slot-name': ' staging ',
        package: ' app/ ',
        'deploy-mode': ' ZipDeploy ',
        'storage-container': ' releases ',
        'managed-identity-resource-id': ' /subscriptions/x/identity ',
        exclude: '  tests/  \n\t*.md\n',
        'compression-level': ' 7 ',
        'dry-run': ' Yes ',
        timeout: ' 90s ',
        'sas-expiry': ' 2w ',
      }),
    );
    expect(got).toMatchObject({
      appName: 'my-func',
      resourceGroup: 'rg',
      slot: 'staging',
      packagePath: 'app/',
      deployMode: 'zipdeploy',
      storageContainer: 'releases',
      managedIdentityResourceId: '/subscriptions/x/identity',
      exclude: ['tests/', '*.md'],
      compressionLevel: 7,
      dryRun: true,
      timeoutMs: 90_000,
      sasExpiryMs: 14 * 86_400_000,
    });
  });

  it('passes the optional values through', () => {
    expect(
      inputs({
        'subscription-id': GUID,
        'storage-account': 'mystorage',
        'storage-connection-string': 'AccountName=a;AccountKey=k',
        'deployment-id': 'release-1',
        'rollback-to': 'release-0',
      }),
    ).toMatchObject({
      subscriptionId: GUID,
      storageAccount: 'mystorage',
      storageConnectionString: 'AccountName=a;AccountKey=k',
      deploymentId: 'release-1',
      rollbackTo: 'release-0',
    });
  });
});

describe('getInputs: the messages of each refusal', () => {
  const rows: [string, Record<string, string>, string][] = [
    [
      'app-name missing',
      { 'app-name': '  ' },
      "Input 'app-name' is required. Set it to the Function App name",
    ],
    [
      'app-name as a URL',
      { 'app-name': 'https://x.azurewebsites.net' },
      "Input 'app-name' is not a valid Function App name: 'https://x.azurewebsites.net'. Use the name only (letters, digits, hyphens), not the URL",
    ],
    [
      'subscription-id as a name',
      { 'subscription-id': 'my sub' },
      "Input 'subscription-id' must be a subscription GUID, got 'my sub'. Use the subscription id, not its name",
    ],
    [
      'sas-expiry over 10 years',
      { 'sas-expiry': '3653d' },
      "Input 'sas-expiry' exceeds 10 years. Use a shorter lifetime, or 'package-access: managed-identity' for a package URL that never expires",
    ],
    [
      'sas-expiry under an hour',
      { 'sas-expiry': '59m' },
      "Input 'sas-expiry' is shorter than 1 hour. The platform fetches the package on every restart: give the SAS a lifetime of days, not minutes",
    ],
    ['timeout under a second', { timeout: '0.5s' }, "Input 'timeout' must be at least 1s. Use e.g. 20m"],
    [
      'a container name with an underscore',
      { 'storage-container': 'Deploy_Here' },
      "Input 'storage-container' is not a valid container name: 'Deploy_Here'. Use 3 to 63 lowercase letters, digits and single hyphens",
    ],
    [
      'a deployment-id with a slash',
      { 'deployment-id': 'a/b' },
      "Input 'deployment-id' may only contain letters, digits, '.', '_' and '-'. It names a blob folder: use e.g. 20261121T101500Z-abc1234",
    ],
    [
      'a publish profile with run-from-package',
      { 'publish-profile': ZIP_PROFILE, 'deploy-mode': 'run-from-package' },
      "Input 'publish-profile' allows zipdeploy only, but 'deploy-mode' is run-from-package. Log in with azure/login (ARM access) for run-from-package, or use deploy-mode: zipdeploy",
    ],
    [
      'a publish profile with rollback-to',
      { 'publish-profile': ZIP_PROFILE, 'rollback-to': 'release-1' },
      "Input 'rollback-to' redeploys a package from the storage account, which needs ARM. Use it with azure/login, not publish-profile",
    ],
    [
      'rollback-to that is neither an id nor an https URL',
      { 'rollback-to': 'http://x/app.zip' },
      "Input 'rollback-to' must be a deployment id or an https package URL. Use the deployment-id output of the run to go back to",
    ],
    [
      'storage-account with capitals',
      { 'storage-account': 'My_Storage' },
      "Input 'storage-account' must be an account name or an https blob endpoint, got 'My_Storage'. Use the account name (3 to 24 lowercase letters and digits)",
    ],
    [
      'an http resource-manager-endpoint',
      { 'resource-manager-endpoint': 'http://x' },
      "Input 'resource-manager-endpoint' must be an https URL. e.g. https://management.usgovcloudapi.net",
    ],
    [
      'an unknown deploy-mode',
      { 'deploy-mode': 'ftp' },
      "Input 'deploy-mode' must be one of 'auto', 'zipdeploy', 'run-from-package', got 'ftp'. Set 'deploy-mode' to one of the listed values",
    ],
    [
      'an unknown on-conflict',
      { 'on-conflict': 'ignore' },
      "Input 'on-conflict' must be one of 'backup-and-replace', 'fail', got 'ignore'. Set 'on-conflict' to one of the listed values",
    ],
    [
      'an unknown package-access',
      { 'package-access': 'key' },
      "Input 'package-access' must be one of 'sas', 'managed-identity', got 'key'. Set 'package-access' to one of the listed values",
    ],
    [
      'an unknown remote-build',
      { 'remote-build': 'always' },
      "Input 'remote-build' must be one of 'auto', 'true', 'false', got 'always'. Set 'remote-build' to one of the listed values",
    ],
    [
      'a boolean that is neither',
      { 'dry-run': 'maybe' },
      "Input 'dry-run' must be true or false, got 'maybe'. Set 'dry-run' to true or false",
    ],
    [
      'an integer out of range',
      { 'compression-level': '12' },
      "Input 'compression-level' must be an integer from 0 to 9, got '12'. Set 'compression-level' to a whole number in that range",
    ],
    [
      'a duration that is not one',
      { timeout: 'forever' },
      "Input 'timeout' has an invalid duration 'forever'. Use a number followed by s, m, h, d, w or y, e.g. 20m or 365d",
    ],
  ];
  it.each(rows)('%s', (_name, values, message) => {
    const error = inputError(() => inputs(values));
    expect(error.message).toBe(message);
  });
});

describe('getInputs: boundaries', () => {
  const refused = (values: Record<string, string>) => inputError(() => inputs(values));

  it.each([
    ['ab', true],
    ['a', true],
    ['a'.repeat(60), true],
    ['my-func-01', true],
    ['A1', true],
    ['a'.repeat(61), false],
    ['-func', false],
    ['func_', false],
    ['my.func', false],
    ['my func', false],
  ])('app-name %j valid: %s', (appName, valid) => {
    if (valid) expect(inputs({ 'app-name': appName }).appName).toBe(appName);
    else refused({ 'app-name': appName });
  });

  it.each([
    [GUID, true],
    [GUID.toUpperCase(), true],
    [`x${GUID}`, false],
    [`${GUID}x`, false],
    [GUID.replace(/-/g, ''), false],
    ['0f8fad5b-d9cb-469f-a165-70867728950', false],
    ['0f8fad5g-d9cb-469f-a165-70867728950e', false],
  ])('subscription-id %s valid: %s', (id, valid) => {
    if (valid) expect(inputs({ 'subscription-id': id }).subscriptionId).toBe(id);
    else refused({ 'subscription-id': id });
  });

  it.each([
    ['abc', true],
    ['a-b', true],
    ['release-2026', true],
    ['a'.repeat(63), true],
    ['ab', false],
    ['a'.repeat(64), false],
    ['a--b', false],
    ['abc--d', false],
    ['-ab', false],
    ['ab-', false],
    ['Abc', false],
    ['deployments!', false],
  ])('storage-container %j valid: %s', (name, valid) => {
    if (valid) expect(inputs({ 'storage-container': name }).storageContainer).toBe(name);
    else refused({ 'storage-container': name });
  });

  it.each([
    ['a', true],
    ['20261121T101500Z-abc1234', true],
    ['v1.2_rc-3', true],
    ['a'.repeat(100), true],
    ['a'.repeat(101), false],
    ['-a', false],
    ['.a', false],
    ['a/b', false],
    ['a b', false],
    ['release:1', false],
  ])('deployment-id and rollback-to %j valid: %s', (id, valid) => {
    if (valid) {
      expect(inputs({ 'deployment-id': id }).deploymentId).toBe(id);
      expect(inputs({ 'rollback-to': id }).rollbackTo).toBe(id);
    } else {
      refused({ 'deployment-id': id });
      refused({ 'rollback-to': id });
    }
  });

  it.each([
    ['https://acct.blob.core.windows.net/deployments/app.zip?sig=x', true],
    ['HTTPS://acct.blob.core.windows.net/d/app.zip', true],
    ['http://acct.blob.core.windows.net/d/app.zip', false],
    ['"https://acct.blob.core.windows.net/d/app.zip"', false],
  ])('rollback-to URL %s valid: %s', (url, valid) => {
    if (valid) expect(inputs({ 'rollback-to': url }).rollbackTo).toBe(url);
    else refused({ 'rollback-to': url });
  });

  it.each([
    ['abc', true],
    ['mystorage2026', true],
    ['a'.repeat(24), true],
    ['https://mystorage.blob.core.windows.net', true],
    ['ab', false],
    ['a'.repeat(25), false],
    ['MyStorage', false],
    ['my-storage', false],
    ['http://mystorage.blob.core.windows.net', false],
    ['"https://mystorage.blob.core.windows.net"', false],
  ])('storage-account %s valid: %s', (account, valid) => {
    if (valid) expect(inputs({ 'storage-account': account }).storageAccount).toBe(account);
    else refused({ 'storage-account': account });
  });

  it('resource-manager-endpoint: https only, trailing slashes dropped', () => {
    expect(
      inputs({ 'resource-manager-endpoint': 'https://management.usgovcloudapi.net//' })
        .resourceManagerEndpoint,
    ).toBe('https://management.usgovcloudapi.net');
    expect(
      inputs({ 'resource-manager-endpoint': 'HTTPS://management.usgovcloudapi.net' }).resourceManagerEndpoint,
    ).toBe('HTTPS://management.usgovcloudapi.net');
    refused({ 'resource-manager-endpoint': '"https://management.usgovcloudapi.net"' });
  });

  it('sas-expiry: from 1 hour to 10 years, both ends included', () => {
    expect(inputs({ 'sas-expiry': '1h' }).sasExpiryMs).toBe(3_600_000);
    expect(inputs({ 'sas-expiry': '10y' }).sasExpiryMs).toBe(MAX_SAS_EXPIRY_MS);
    expect(inputs({ 'sas-expiry': '3652d' }).sasExpiryMs).toBe(3652 * 86_400_000);
    expect(refused({ 'sas-expiry': '3599s' }).message).toMatch(/shorter than 1 hour/);
    expect(refused({ 'sas-expiry': '3653d' }).message).toMatch(/exceeds 10 years/);
    expect(MAX_SAS_EXPIRY_MS).toBe(315_576_000_000);
  });

  it('timeout: at least one second', () => {
    expect(inputs({ timeout: '1' }).timeoutMs).toBe(1000);
    expect(inputs({ timeout: '1s' }).timeoutMs).toBe(1000);
    expect(refused({ timeout: '0.999s' }).message).toMatch(/at least 1s/);
  });

  it.each([
    ['compression-level', '0', 0],
    ['compression-level', '9', 9],
    ['retain-packages', '1', 1],
    ['retain-packages', '10', 10],
    ['retain-packages', '1000', 1000],
    ['retain-days', '1', 1],
    ['retain-days', '36500', 36500],
  ] as const)('%s %s is %d', (name, value, expected) => {
    const key =
      name === 'compression-level'
        ? 'compressionLevel'
        : name === 'retain-packages'
          ? 'retainPackages'
          : 'retainDays';
    expect(inputs({ [name]: value })[key]).toBe(expected);
  });

  it.each([
    ['compression-level', '10'],
    ['compression-level', '-1'],
    ['compression-level', '1.5'],
    ['compression-level', 'a1'],
    ['compression-level', '1a'],
    ['retain-packages', '0'],
    ['retain-packages', '1001'],
    ['retain-days', '0'],
    ['retain-days', '36501'],
  ])('%s %s is refused', (name, value) => {
    expect(refused({ [name]: value }).message).toMatch(
      new RegExp(`^Input '${name}' must be an integer from`),
    );
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['yes', true],
    ['1', true],
    ['On', true],
    ['false', false],
    ['No', false],
    ['0', false],
    ['off', false],
    [' OFF ', false],
  ])('boolean %j is %s, for every boolean input', (value, expected) => {
    expect(
      inputs({
        restart: value,
        'sync-triggers': value,
        verify: value,
        'rollback-on-failure': value,
        'dry-run': value,
      }),
    ).toMatchObject({
      restart: expected,
      syncTriggers: expected,
      verify: expected,
      rollbackOnFailure: expected,
      dryRun: expected,
    });
  });

  it('every listed choice is accepted, whatever its case', () => {
    for (const deployMode of ['auto', 'zipdeploy', 'run-from-package'])
      expect(inputs({ 'deploy-mode': deployMode.toUpperCase() }).deployMode).toBe(deployMode);
    for (const onConflict of ['backup-and-replace', 'fail'])
      expect(inputs({ 'on-conflict': onConflict }).onConflict).toBe(onConflict);
    for (const packageAccess of ['sas', 'managed-identity'])
      expect(inputs({ 'package-access': packageAccess }).packageAccess).toBe(packageAccess);
    for (const remoteBuild of ['auto', 'true', 'false'])
      expect(inputs({ 'remote-build': remoteBuild }).remoteBuild).toBe(remoteBuild);
  });

  it('slot-name production (any case) is the production app; another slot is kept as given', () => {
    expect(inputs({ 'slot-name': 'PRODUCTION' }).slot).toBeUndefined();
    expect(inputs({ 'slot-name': 'Staging' }).slot).toBe('Staging');
  });

  it('exclude drops blank lines and comments, and splits CRLF', () => {
    expect(inputs({ exclude: 'a/\r\n  # note\r\n\r\n b.txt \n#x' }).exclude).toEqual(['a/', 'b.txt']);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['90', 90_000],
    ['20m', 1_200_000],
    ['20M', 1_200_000],
    ['12h', 43_200_000],
    ['1.5h', 5_400_000],
    ['1.25h', 4_500_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1y', 31_557_600_000],
    ['10 d', 864_000_000],
    [' 20m ', 1_200_000],
    ['0.0015s', 2],
  ])('%j is %d ms', (value, ms) => expect(parseDuration(value, 'timeout')).toBe(ms));

  it.each(['forever', '', 'x5m', '5mx', '5 m s', '-5m', '.5m', '5.m', '5mo'])('%j is refused', (value) => {
    expect(inputError(() => parseDuration(value, 'sas-expiry')).message).toBe(
      `Input 'sas-expiry' has an invalid duration '${value}'. Use a number followed by s, m, h, d, w or y, e.g. 20m or 365d`,
    );
  });
});

describe('parsePublishProfile', () => {
  it('prefers the ZipDeploy or MSDeploy profile over the first one', () => {
    const xml = `<publishData>
      <publishProfile profileName="FTP" publishMethod="FTP" publishUrl="ftp://waws.ftp.azurewebsites.windows.net/site/wwwroot" userName="ftpuser" userPWD="ftppw" />
      <publishProfile profileName="Zip" publishMethod="ZipDeploy" publishUrl="my-func.scm.azurewebsites.net:443" msdeploySite="my-func" userName="$my-func" userPWD="zippw" />
    </publishData>`;
    expect(parsePublishProfile(xml)).toEqual({
      scmUrl: 'https://my-func.scm.azurewebsites.net',
      userName: '$my-func',
      password: 'zippw',
      siteName: 'my-func',
    });
  });

  it('takes the first profile when none is ZipDeploy or MSDeploy, and reads an open tag', () => {
    const xml = `<publishData><publishProfile publishMethod="FTP" publishUrl="https://one.scm.x/path/deep" userName="u1" userPWD="p1"></publishProfile><publishProfile publishMethod="FTP" publishUrl="two.scm.x" userName="u2" userPWD="p2"></publishProfile></publishData>`;
    expect(parsePublishProfile(xml)).toEqual({
      scmUrl: 'https://one.scm.x',
      userName: 'u1',
      password: 'p1',
      siteName: '',
    });
  });

  it('reads attributes whatever their case, and an http URL becomes https', () => {
    expect(
      parsePublishProfile(
        profileXml(
          'PUBLISHMETHOD="zipdeploy" PublishUrl="http://a.scm.x" USERNAME="u" userpwd="p" MSDeploySite="a"',
        ),
      ),
    ).toEqual({ scmUrl: 'https://a.scm.x', userName: 'u', password: 'p', siteName: 'a' });
  });

  it('decodes the XML entities of every value, &amp; last', () => {
    const got = parsePublishProfile(
      profileXml(
        'publishMethod="ZipDeploy" publishUrl="a.scm.x" userName="$a&amp;b" userPWD="&quot;&apos;&lt;&gt;&amp;&amp;lt;" msdeploySite="a&amp;b"',
      ),
    );
    expect(got.userName).toBe('$a&b');
    expect(got.password).toBe(`"'<>&&lt;`);
    expect(got.siteName).toBe('a&b');
  });

  it.each([
    ['no profile', '<publishData></publishData>'],
    ['no userName', profileXml('publishMethod="ZipDeploy" publishUrl="a.scm.x" userPWD="p"')],
    ['no userPWD', profileXml('publishMethod="ZipDeploy" publishUrl="a.scm.x" userName="u"')],
    ['no publishUrl', profileXml('publishMethod="ZipDeploy" userName="u" userPWD="p"')],
    [
      'an empty userPWD',
      profileXml('publishMethod="ZipDeploy" publishUrl="a.scm.x" userName="u" userPWD=""'),
    ],
  ])('refuses a profile with %s', (_name, xml) => {
    expect(inputError(() => parsePublishProfile(xml)).message).toBe(
      "Input 'publish-profile' is not a publish profile with userName, userPWD and publishUrl. Paste the whole file downloaded with 'Get publish profile' into a secret and pass that secret",
    );
  });
});

describe('checkProfileTarget: a profile for another app or slot is refused', () => {
  const profile = (siteName: string, host: string): PublishProfile => ({
    scmUrl: `https://${host}`,
    userName: 'u',
    password: 'p',
    siteName,
  });

  it.each([
    ['msdeploySite of the app', profile('my-func', 'other.scm.x'), 'my-func', undefined],
    ['msdeploySite in another case', profile('My-Func', 'other.scm.x'), 'my-func', undefined],
    ['msdeploySite of the slot', profile('my-func__staging', 'other.scm.x'), 'My-Func', 'Staging'],
    ['the SCM host of the app', profile('', 'my-func.scm.azurewebsites.net'), 'my-func', undefined],
    ['the SCM host in another case', profile('', 'MY-FUNC.scm.azurewebsites.net'), 'my-func', undefined],
    ['the SCM host of the slot', profile('', 'my-func-staging.scm.azurewebsites.net'), 'my-func', 'staging'],
  ])('accepts %s', (_name, p, appName, slot) => {
    expect(() => checkProfileTarget(p, appName, slot)).not.toThrow();
  });

  it.each([
    [
      'another site',
      profile('other', 'my-func.scm.x'),
      undefined,
      "Input 'publish-profile' is for site 'other', not for 'my-func' (app-name); nothing was changed. Download the publish profile of 'my-func', or correct app-name/slot-name",
    ],
    [
      'the production site for a slot',
      profile('my-func', 'my-func.scm.x'),
      'staging',
      "Input 'publish-profile' is for site 'my-func', not for slot 'staging' of 'my-func' (app-name and slot-name); nothing was changed. Download the publish profile of the 'staging' slot of 'my-func', or correct app-name/slot-name",
    ],
    [
      'another SCM host',
      profile('', 'other.scm.azurewebsites.net'),
      undefined,
      "Input 'publish-profile' is for SCM host 'other.scm.azurewebsites.net', not for 'my-func' (app-name); nothing was changed. Download the publish profile of 'my-func', or correct app-name/slot-name",
    ],
    [
      'the SCM host of a prefix of the name',
      profile('', 'my.scm.azurewebsites.net'),
      undefined,
      "Input 'publish-profile' is for SCM host 'my.scm.azurewebsites.net', not for 'my-func' (app-name); nothing was changed. Download the publish profile of 'my-func', or correct app-name/slot-name",
    ],
  ])('refuses %s', (_name, p, slot, message) => {
    expect(inputError(() => checkProfileTarget(p, 'my-func', slot)).message).toBe(message);
  });

  it('getInputs checks the profile against app-name and slot-name', () => {
    expect(inputs({ 'publish-profile': ZIP_PROFILE }).publishProfile).toEqual({
      scmUrl: 'https://my-func.scm.azurewebsites.net',
      userName: '$my-func',
      password: 'pw',
      siteName: 'my-func',
    });
    expect(inputs({ 'publish-profile': ZIP_PROFILE, 'deploy-mode': 'zipdeploy' }).deployMode).toBe(
      'zipdeploy',
    );
    expect(inputError(() => inputs({ 'publish-profile': ZIP_PROFILE, 'app-name': 'other' })).message).toMatch(
      /^Input 'publish-profile' is for site 'my-func', not for 'other'/,
    );
    expect(
      inputError(() => inputs({ 'publish-profile': ZIP_PROFILE, 'slot-name': 'staging' })).message,
    ).toMatch(/^Input 'publish-profile' is for site 'my-func', not for slot 'staging' of 'my-func'/);
  });

  it('run-from-package and rollback-to are fine without a publish profile', () => {
    expect(inputs({ 'deploy-mode': 'run-from-package', 'rollback-to': 'r1' })).toMatchObject({
      deployMode: 'run-from-package',
      rollbackTo: 'r1',
      publishProfile: undefined,
    });
  });
});
