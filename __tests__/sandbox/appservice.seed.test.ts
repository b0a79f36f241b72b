import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SUBSCRIPTION_ID,
  DEFAULT_TENANT_ID,
  parseSeed,
  redactSas,
  tierOf,
} from '../../sandbox/appservice/index.js';

const app = (overrides: Record<string, unknown> = {}) => ({
  name: 'func-a',
  resourceGroup: 'rg',
  os: 'windows',
  plan: { name: 'plan-a', sku: 'Y1' },
  ...overrides,
});

const flexConfig = (authentication: Record<string, unknown> = { type: 'SystemAssignedIdentity' }) => ({
  deployment: {
    storage: {
      type: 'blobContainer',
      value: 'https://127.0.0.1:10000/devstoreaccount1/app-package-f',
      authentication,
    },
  },
  runtime: { name: 'python', version: '3.11' },
});
const flex = (overrides: Record<string, unknown> = {}) =>
  app({
    name: 'func-f',
    os: 'linux',
    plan: { name: 'plan-f', sku: 'FC1' },
    functionAppConfig: flexConfig(),
    ...overrides,
  });

describe('parseSeed', () => {
  it('fills the documented defaults', () => {
    const seed = parseSeed({ apps: [app()] });
    expect(seed.subscriptionId).toBe(DEFAULT_SUBSCRIPTION_ID);
    expect(seed.tenantId).toBe(DEFAULT_TENANT_ID);
    expect(seed.apps[0]).toEqual({
      name: 'func-a',
      resourceGroup: 'rg',
      location: 'East US',
      os: 'windows',
      plan: { name: 'plan-a', sku: 'Y1', tier: 'Dynamic' },
      state: 'Running',
      basicAuthAllowed: true,
      identities: [],
      linuxFxVersion: '',
      settings: {},
      slots: [],
    });
  });

  it.each([
    [{ apps: [] }, 'apps: must be a non-empty array'],
    [{ apps: [app({ plan: { name: 'p', sku: 'X9' } })] }, "apps[0].plan.sku: unknown SKU 'X9'"],
    [
      { apps: [app({ os: 'windows', plan: { name: 'p', sku: 'FC1' } })] },
      'Flex Consumption apps are Linux only',
    ],
    [{ apps: [app(), app()] }, "apps[1].name: duplicate app 'func-a'"],
    [{ apps: [app({ settings: { A: 1 } })] }, 'apps[0].settings.A: must be a string'],
    [
      { apps: [app({ slots: [{ name: 'production' }] })] },
      "apps[0].slots[0].name: 'production' is not a valid slot name",
    ],
    [{ apps: [app({ state: 'Paused' })] }, 'apps[0].state'],
    [{ apps: [app({ name: '-bad-' })] }, 'is not a valid app name'],
    [{ subscriptionId: 'sub', apps: [app()] }, 'subscriptionId: must be a GUID'],
    [{ apps: [app({ functionAppConfig: {} })] }, 'only Flex Consumption apps have one'],
    [
      { apps: [app(), app({ name: 'func-b', plan: { name: 'plan-a', sku: 'EP1' } })] },
      "plan 'plan-a' is declared with different SKUs or OSes",
    ],
    ['not an object', '(root)'],
    [
      { apps: [flex({ slots: [{ name: 'staging' }] })] },
      'apps[0].slots: Flex Consumption apps have no deployment slots',
    ],
    [
      { apps: [flex(), flex({ name: 'func-g' })] },
      "apps[1].plan: plan 'plan-f' already hosts an app (one app per FC1 plan)",
    ],
    [
      { apps: [flex({ functionAppConfig: { ...flexConfig(), runtime: { name: 'node' } } })] },
      'apps[0].functionAppConfig.runtime: must be {name, version}',
    ],
    [
      { apps: [flex({ functionAppConfig: flexConfig({ type: 'SharedKey' }) })] },
      'apps[0].functionAppConfig.deployment.storage.authentication.type: must be one of StorageAccountConnectionString',
    ],
    [
      { apps: [flex({ functionAppConfig: flexConfig({ type: 'StorageAccountConnectionString' }) })] },
      'authentication.storageAccountConnectionStringName: must name the app setting',
    ],
    [
      { apps: [flex({ functionAppConfig: flexConfig({ type: 'UserAssignedIdentity' }) })] },
      'authentication.userAssignedIdentityResourceId',
    ],
    [
      {
        apps: [
          flex({
            functionAppConfig: {
              ...flexConfig(),
              deployment: { storage: { type: 'blobContainer', value: 'c' } },
            },
          }),
        ],
      },
      'apps[0].functionAppConfig.deployment.storage.value: must be the URL of a blob container',
    ],
    [
      { apps: [flex({ functionAppConfig: { ...flexConfig(), siteUpdateStrategy: { type: 'BlueGreen' } } })] },
      'siteUpdateStrategy.type',
    ],
    [{ apps: [app({ kind: 'web,linux' })] }, 'apps[0].kind: must look like'],
    [{ apps: [app({ kind: 'app,linux' })] }, 'contains "linux" exactly when os is "linux"'],
    [{ apps: [app({ kind: 'functionapp,linux' })] }, 'contains "linux" exactly when os is "linux"'],
    [{ apps: [app({ imageFunctions: ['Fn'] })] }, 'only container apps'],
    [
      { apps: [app({ os: 'linux', kind: 'functionapp,linux,container', imageFunctions: ['bad name'] })] },
      'apps[0].imageFunctions: must be an array of function names',
    ],
  ])('rejects %j', (json, message) => {
    expect(() => parseSeed(json)).toThrow(message);
    expect(() => parseSeed(json)).toThrow(/^Invalid sandbox seed: /);
  });
});

describe('parseSeed: Flex Consumption', () => {
  it('keeps a valid functionAppConfig as given', () => {
    const config = flexConfig({
      type: 'StorageAccountConnectionString',
      storageAccountConnectionStringName: 'DEPLOY',
    });
    expect(parseSeed({ apps: [flex({ functionAppConfig: config })] }).apps[0]?.functionAppConfig).toEqual(
      config,
    );
  });
});

describe('container apps in the seed', () => {
  it('keeps kind, a DOCKER| linuxFxVersion and the functions the image runs', () => {
    const seed = parseSeed({
      apps: [
        app({
          os: 'linux',
          plan: { name: 'p', sku: 'P1v3' },
          kind: 'functionapp,linux,kubernetes,container',
          linuxFxVersion: 'DOCKER|contoso.azurecr.io/orders:1.4',
          imageFunctions: ['Orders', 'Health'],
        }),
      ],
    });
    expect(seed.apps[0]).toMatchObject({
      kind: 'functionapp,linux,kubernetes,container',
      linuxFxVersion: 'DOCKER|contoso.azurecr.io/orders:1.4',
      imageFunctions: ['Orders', 'Health'],
    });
  });
});

describe('tierOf', () => {
  it.each([
    ['Y1', 'Dynamic'],
    ['EP1', 'ElasticPremium'],
    ['EP3', 'ElasticPremium'],
    ['FC1', 'FlexConsumption'],
    ['B1', 'Basic'],
    ['S2', 'Standard'],
    ['P1v2', 'PremiumV2'],
    ['P1v3', 'PremiumV3'],
    ['p2V3', 'PremiumV3'],
    ['EP4', undefined],
  ])('%s -> %s', (sku, tier) => {
    expect(tierOf(sku)).toBe(tier);
  });
});

describe('redactSas', () => {
  it.each([
    ['https://h/c/b.zip?sv=2024&sig=abc%2Bdef%3D&se=x', 'https://h/c/b.zip?sv=2024&sig=REDACTED&se=x'],
    ['url https://h/b?SIG=zzz end', 'url https://h/b?SIG=REDACTED end'],
    [
      'outer?u=https%3A%2F%2Fh%2Fb%3Fsv%3D1%26sig%3Dabc%252B%26se%3D2',
      'outer?u=https%3A%2F%2Fh%2Fb%3Fsv%3D1%26sig%3DREDACTED%26se%3D2',
    ],
    ['no signature here', 'no signature here'],
  ])('%s', (input, output) => {
    expect(redactSas(input)).toBe(output);
  });
});
