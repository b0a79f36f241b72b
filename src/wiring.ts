import type { AppServiceApi, SiteRef } from './azure/appservice.js';
import { createKuduApi, type KuduApi } from './azure/kudu.js';
import { parseConnectionString, type StorageChoice } from './azure/layout.js';
import { createStorageApi, type StorageApi } from './azure/storage.js';
import type { RunContext } from './context.js';
import type { Target } from './documents.js';
import { AzureError, PlanError } from './errors.js';
import type { Inspection } from './model.js';
import { type Connection, targetOf } from './model.js';
import type { Plan } from './plan.js';
import type { Deadline } from './retry.js';
import { PackageStore } from './store.js';

/** The ARM side of a run: the client on the run's deadline, and a factory for the restore's own deadline. */
export interface ArmClients {
  api: AppServiceApi;
  ref: SiteRef;
  on(deadline: Deadline): AppServiceApi;
}

/** The clients a plan's mode needs, opened once the plan is known; which exist is fixed by the mode. */
export type Clients =
  | {
      mode: 'run-from-package';
      target: Target;
      arm: ArmClients;
      storage: StorageApi;
      store: PackageStore;
      /** No Kudu: the package is a URL. */
      kuduOn: undefined;
    }
  | {
      mode: 'one-deploy';
      target: Target;
      arm: ArmClients;
      kudu: KuduApi;
      kuduOn(deadline: Deadline): KuduApi;
      storage: StorageApi;
      store: PackageStore;
      /** The platform's deployment container, where released-package.zip is. */
      release: { api: StorageApi; container: string };
    }
  | {
      mode: 'zipdeploy';
      target: Target;
      kudu: KuduApi;
      /** Kudu on another deadline: the restore's own. */
      kuduOn(deadline: Deadline): KuduApi;
      /** Set for rollback-to, whose package is in storage. */
      storage: StorageApi | undefined;
      store: PackageStore | undefined;
      /** undefined with a publish profile: no settings change, no function listing, no restore. */
      arm: (ArmClients & { basicAuthKudu(): Promise<KuduApi | undefined> }) | undefined;
    };

/** Opens the package storage the plan chose; the key comes from the input or the app setting it named. */
export function openStorage(
  ctx: RunContext,
  choice: StorageChoice,
  inspection: Inspection,
  connection: Connection,
): StorageApi {
  if (choice.kind === 'shared-key') {
    const source =
      choice.from === 'storage-connection-string'
        ? ctx.inputs.storageConnectionString
        : inspection.settings.AzureWebJobsStorage;
    const parts = parseConnectionString(source);
    if (!parts) throw new PlanError(`Internal: the ${choice.from} connection string has no key`);
    return createStorageApi({ kind: 'shared-key', ...parts }, ctx.deadline, ctx.logger);
  }
  const { credential } = signedIn(connection, 'Entra ID storage');
  return createStorageApi(
    { kind: 'entra', accountName: choice.accountName, blobEndpoint: choice.blobEndpoint, credential },
    ctx.deadline,
    ctx.logger,
  );
}

/** The package storage and the app's package store in it. */
export function openStore(
  ctx: RunContext,
  choice: StorageChoice,
  inspection: Inspection,
  connection: Connection,
  readOnly = false,
): { storage: StorageApi; store: PackageStore } {
  const { ref } = signedIn(connection, 'The package store');
  const storage = openStorage(ctx, choice, inspection, connection);
  return {
    storage,
    store: new PackageStore(storage, ctx.inputs.storageContainer, ref, ctx.logger, readOnly),
  };
}

/** The ARM connection; inputs refuse a publish profile for everything that needs one, so this is an internal check. */
function signedIn(connection: Connection, what: string): Connection & { kind: 'arm' } {
  if (connection.kind !== 'arm')
    throw new PlanError(`Internal: ${what} needs an az login, not a publish profile`);
  return connection;
}

export function clientsFor(
  ctx: RunContext,
  connection: Connection,
  inspection: Inspection,
  plan: Plan,
): Clients {
  const target = targetOf(connection);
  if (connection.kind === 'publish-profile') {
    return {
      mode: 'zipdeploy',
      target,
      kudu: connection.kudu(ctx.deadline),
      kuduOn: connection.kudu,
      arm: undefined,
      storage: undefined,
      store: undefined,
    };
  }
  const arm: ArmClients = { api: connection.arm(ctx.deadline), ref: connection.ref, on: connection.arm };
  if (plan.mode === 'run-from-package') {
    if (!plan.storage) throw new PlanError('Internal: run-from-package without a storage choice');
    return {
      mode: 'run-from-package',
      target,
      arm,
      kuduOn: undefined,
      ...openStore(ctx, plan.storage, inspection, connection),
    };
  }
  if (plan.mode === 'one-deploy') {
    if (!plan.storage || !plan.release) throw new PlanError('Internal: one-deploy without storage');
    const { kudu, kuduOn } = kuduClients(ctx, connection, inspection);
    return {
      mode: 'one-deploy',
      target,
      arm,
      kudu,
      kuduOn,
      ...openStore(ctx, plan.storage, inspection, connection),
      release: {
        api: openStorage(ctx, plan.release.choice, inspection, connection),
        container: plan.release.container,
      },
    };
  }
  const { kudu, kuduOn, origin } = kuduClients(ctx, connection, inspection);
  return {
    mode: 'zipdeploy',
    target,
    ...(plan.storage
      ? openStore(ctx, plan.storage, inspection, connection)
      : { storage: undefined, store: undefined }),
    kudu,
    kuduOn,
    arm: {
      ...arm,
      async basicAuthKudu() {
        if (!(await arm.api.basicAuthAllowed(arm.ref))) return undefined;
        const creds = await arm.api.publishingCredentials(arm.ref);
        ctx.logger.mask(creds.password);
        return createKuduApi({
          origin,
          auth: { kind: 'basic', userName: creds.userName, password: creds.password },
          deadline: ctx.deadline,
          logger: ctx.logger,
        });
      },
    },
  };
}

/** Kudu with the ARM token (bearer), on the run's deadline and on another one (the restore's). */
function kuduClients(ctx: RunContext, connection: Connection & { kind: 'arm' }, inspection: Inspection) {
  const scmHost = inspection.site?.scmHost;
  if (!scmHost) {
    throw new AzureError(`The site ${connection.ref.name} has no SCM (Kudu) host name`, {
      fix: 'Kudu deployments need the SCM site; use deploy-mode run-from-package',
    });
  }
  const origin = `https://${scmHost}`;
  const kuduOn = (deadline: Deadline) =>
    createKuduApi({
      origin,
      auth: { kind: 'bearer', credential: connection.credential, scope: connection.armScope },
      deadline,
      logger: ctx.logger,
    });
  return { kudu: kuduOn(ctx.deadline), kuduOn, origin };
}

/** What `status` reads: ARM, the package store, Kudu for an =1 app's package, and a Flex app's deployment container. */
export function statusClients(ctx: RunContext, given: Connection, inspection: Inspection, plan: Plan) {
  const connection = signedIn(given, 'status');
  const arm = { api: connection.arm(ctx.deadline), ref: connection.ref };
  const packages = plan.storage ? openStore(ctx, plan.storage, inspection, connection, true) : undefined;
  const kudu = inspection.site?.scmHost ? kuduClients(ctx, connection, inspection).kudu : undefined;
  const release = plan.release && {
    api: openStorage(ctx, plan.release.choice, inspection, connection),
    container: plan.release.container,
  };
  return { inspection, arm, packages, kudu, release };
}
