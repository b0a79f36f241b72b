import { createAppServiceApi } from '../azure/appservice.js';
import { CachedCliCredential, readAzContext, scopeFor } from '../azure/credentials.js';
import { createKuduApi } from '../azure/kudu.js';
import type { RunContext } from '../context.js';
import { ActionError } from '../errors.js';
import type { Connection } from '../model.js';
import type { Deadline } from '../retry.js';

/** Reads the az account and cloud, picks the credential explicitly, and finds the app's resource group. */
export async function connect(ctx: RunContext): Promise<Connection> {
  const { inputs, logger, deadline } = ctx;
  if (inputs.publishProfile) {
    const profile = inputs.publishProfile;
    return {
      kind: 'publish-profile',
      target: { app: inputs.appName, slot: inputs.slot },
      profile,
      kudu: (d) =>
        createKuduApi({
          origin: profile.scmUrl,
          auth: { kind: 'basic', userName: profile.userName, password: profile.password },
          deadline: d,
          logger,
        }),
    };
  }
  const az = await readAzContext(Math.min(60_000, Math.max(1000, deadline.remaining())), logger);
  const subscriptionId = inputs.subscriptionId ?? az.subscriptionId;
  if (!subscriptionId) {
    throw new ActionError('No subscription: az has no default account', {
      fix: 'Set subscription-id or run azure/login first',
    });
  }
  const credential = new CachedCliCredential(az.tenantId, logger);
  const armScope = scopeFor(az.armAudience);
  const arm = (d: Deadline) =>
    createAppServiceApi({
      credential,
      subscriptionId,
      endpoint: inputs.resourceManagerEndpoint ?? az.resourceManagerEndpoint,
      scope: armScope,
      deadline: d,
      logger,
    });
  const { resourceGroup, kind } = inputs.resourceGroup
    ? { resourceGroup: inputs.resourceGroup, kind: undefined }
    : await arm(deadline).findResourceGroup(inputs.appName);
  return {
    kind: 'arm',
    ref: { subscriptionId, resourceGroup, name: inputs.appName, slot: inputs.slot },
    lookedUpKind: kind,
    storageSuffix: az.storageSuffix,
    credential,
    armScope,
    arm,
  };
}
