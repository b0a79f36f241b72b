import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import { createFunctionsHostApi, type HostStatus } from '../azure/functions-host.js';
import type { KuduApi } from '../azure/kudu.js';
import { blobNameIn, parseBlobUrl } from '../azure/layout.js';
import type { StorageApi } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import { DriftError, messageOf } from '../errors.js';
import { type Inspection, RELEASED_PACKAGE } from '../model.js';
import { classifyPrevious, packageSetting } from '../plan.js';
import { redactSas, sasExpiry } from '../redact.js';
import { type IndexEntry, type PackageStore, sha256File } from '../store.js';

/** What `status` found wrong, most serious first; `none` when the app runs what was deployed, as deployed. */
export type Drift =
  | 'none'
  | 'blob-missing'
  | 'content-mismatch'
  | 'unknown-package'
  | 'sas-expired'
  | 'functions-mismatch'
  | 'sas-expiring';

export interface StatusReport {
  /** The live package setting, SAS redacted; for Flex and =1 apps, what the platform runs. */
  live: string;
  /** The stored deployment the app runs, when it is one of the action's. */
  deployment: IndexEntry | undefined;
  /** Whether the package behind the setting exists and is what was recorded, and how that was checked. */
  content: { exists: boolean; matches: boolean | undefined; how: string } | undefined;
  sas: { expiresAt: string; daysLeft: number } | undefined;
  functions: { listed: string[]; expected: string[] | undefined; missing: string[] };
  host: HostStatus | undefined;
  /** The app's last stored deployments, newest first, the live one marked. */
  history: (IndexEntry & { live: boolean })[];
  drift: Drift;
  /** One sentence per finding, for the log and the summary. */
  findings: string[];
}

const DAY = 86_400_000;

/** fail-on-drift: the status run fails, naming the drift, once its report is kept for the summary. */
export function refuseDrift(found: StatusReport): void {
  if (found.drift === 'none') return;
  throw new DriftError(
    found.drift,
    `Drift: ${found.drift}. ${found.findings.join(' ')}`,
    'See the status summary',
  );
}

/**
 * The read-only drift check: which stored deployment the app runs, whether that package is still there and still
 * has the recorded content (downloaded and hashed: a blob's metadata can be kept while its bytes change), the SAS
 * lifetime, the functions the platform lists against the recorded ones, the host status, and the history.
 * Nothing is written to the app or the storage.
 */
export async function checkStatus(
  ctx: RunContext,
  args: {
    inspection: Inspection;
    arm: { api: AppServiceApi; ref: SiteRef };
    packages: { storage: StorageApi; store: PackageStore } | undefined;
    kudu: KuduApi | undefined;
    release: { api: StorageApi; container: string } | undefined;
  },
): Promise<StatusReport> {
  const { inspection, packages } = args;
  const findings: string[] = [];
  const drifts = new Set<Drift>();
  const work = mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-status-'));
  try {
    const entries = packages ? await packages.store.packages() : [];
    const setting = packageSetting(inspection.settings);
    let live = setting === undefined ? '(not set)' : redactSas(setting);
    let deployment: IndexEntry | undefined;
    let content: StatusReport['content'];
    let sas: StatusReport['sas'];

    const byHash = async (file: string, what: string): Promise<void> => {
      const sha256 = await sha256File(file);
      deployment = entries.find((e) => e.sha256 === sha256 || e.releasedSha256 === sha256);
      content = {
        exists: true,
        matches: deployment ? true : undefined,
        how: `${what} downloaded and hashed (sha256 ${sha256})`,
      };
      if (!deployment) {
        drifts.add('unknown-package');
        findings.push(
          `The app runs a package (sha256 ${sha256}) that is not one of this action's stored deployments.`,
        );
      }
    };

    if (inspection.site?.flex && args.release) {
      live = `${RELEASED_PACKAGE} in the deployment container`;
      const file = join(work, RELEASED_PACKAGE);
      const exists = await args.release.api.get(args.release.container, RELEASED_PACKAGE);
      if (!exists) {
        drifts.add('blob-missing');
        findings.push(`The Flex app has no ${RELEASED_PACKAGE}: it runs nothing.`);
        content = { exists: false, matches: undefined, how: `${RELEASED_PACKAGE} looked up` };
      } else {
        await args.release.api.download(args.release.container, RELEASED_PACKAGE, file);
        await byHash(file, RELEASED_PACKAGE);
      }
    } else if (classifyPrevious(setting) === 'url' && setting) {
      const expires = sasExpiry(setting);
      if (expires) {
        const left = expires.getTime() - ctx.now().getTime();
        sas = { expiresAt: expires.toISOString(), daysLeft: Math.floor(left / DAY) };
        if (left <= 0) {
          drifts.add('sas-expired');
          findings.push(
            `The package URL's SAS expired on ${expires.toISOString()}: the app cannot load it on its next restart.`,
          );
        } else if (left < ctx.inputs.rotateWithinMs) {
          drifts.add('sas-expiring');
          findings.push(
            `The package URL's SAS expires on ${expires.toISOString()} (in ${Math.ceil(left / DAY)} days): run operation rotate-sas.`,
          );
        } else
          findings.push(
            `The package URL's SAS expires on ${expires.toISOString()} (in ${Math.floor(left / DAY)} days).`,
          );
      }
      const name = packages
        ? blobNameIn(setting, packages.storage.blobEndpoint, ctx.inputs.storageContainer)
        : undefined;
      deployment = name ? entries.find((e) => e.blob === name) : undefined;
      if (!name || !deployment || !packages) {
        drifts.add('unknown-package');
        findings.push(
          `The package URL (${redactSas(parseBlobUrl(setting)?.url ?? 'not a blob URL')}) is not one of this action's stored deployments.`,
        );
      } else {
        const blob = await packages.storage.get(ctx.inputs.storageContainer, name);
        if (!blob) {
          drifts.add('blob-missing');
          content = { exists: false, matches: undefined, how: 'blob looked up' };
          findings.push(
            `The blob the package URL points at ('${name}') does not exist: the app cannot load it on its next restart.`,
          );
        } else {
          const file = join(work, 'live.zip');
          await packages.storage.download(ctx.inputs.storageContainer, name, file);
          const sha256 = await sha256File(file);
          const matches = sha256 === deployment.sha256;
          content = { exists: true, matches, how: `blob downloaded and hashed (sha256 ${sha256})` };
          if (!matches) {
            drifts.add('content-mismatch');
            findings.push(
              `The blob '${name}' no longer holds the package deployed as ${deployment.deploymentId}: its sha256 is ${sha256}, the record says ${deployment.sha256}.`,
            );
          }
        }
      }
    } else if (setting?.trim() === '1' && args.kudu) {
      const file = join(work, 'site-package.zip');
      const name = await args.kudu.downloadSitePackage(file).catch((error: unknown) => {
        findings.push(`The package in data/SitePackages could not be read (${redactSas(messageOf(error))}).`);
        return undefined;
      });
      if (name) {
        live = `data/SitePackages/${name} (${setting}=1)`;
        await byHash(file, `data/SitePackages/${name}`);
      } else drifts.add('unknown-package');
    } else {
      drifts.add('unknown-package');
      findings.push(
        `${live === '(not set)' ? 'WEBSITE_RUN_FROM_PACKAGE is not set' : `WEBSITE_RUN_FROM_PACKAGE is '${live}'`}: the app runs files that are not a stored package.`,
      );
    }

    const listed = await args.arm.api.listFunctions(args.arm.ref).catch((error: unknown) => {
      findings.push(`The platform did not list the functions (${redactSas(messageOf(error))}).`);
      return [] as string[];
    });
    const expected = deployment?.functions;
    const missing = (expected ?? []).filter((f) => !listed.some((l) => l.toLowerCase() === f.toLowerCase()));
    if (missing.length) {
      drifts.add('functions-mismatch');
      findings.push(
        `The platform lists [${listed.join(', ')}]; the deployed package has [${(expected ?? []).join(', ')}]: missing [${missing.join(', ')}].`,
      );
    }
    const host = await hostStatus(ctx, args);
    if (host && host.state !== 'Running')
      findings.push(`The host is ${host.state}${host.errors.length ? `: ${host.errors.join('; ')}` : ''}.`);
    if (deployment)
      findings.push(
        `The app runs deployment ${deployment.deploymentId} (sha256 ${deployment.sha256}${deployment.commit ? `, commit ${deployment.commit.slice(0, 7)}` : ''}).`,
      );

    const order: Drift[] = [
      'blob-missing',
      'content-mismatch',
      'unknown-package',
      'sas-expired',
      'functions-mismatch',
      'sas-expiring',
    ];
    const drift = order.find((d) => drifts.has(d)) ?? 'none';
    const history = entries
      .filter((e) => !e.kept)
      .slice(0, ctx.inputs.history)
      .map((e) => ({ ...e, live: e.blob === deployment?.blob }));
    for (const finding of findings) ctx.logger.info(`status: ${finding}`);
    ctx.logger.info(`status: drift ${drift}.`);
    return {
      live,
      deployment,
      content,
      sas,
      functions: { listed, expected, missing },
      host,
      history,
      drift,
      findings,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function hostStatus(
  ctx: RunContext,
  args: { inspection: Inspection; arm: { api: AppServiceApi; ref: SiteRef } },
): Promise<HostStatus | undefined> {
  const hostName = args.inspection.site?.defaultHostName;
  if (!hostName) return undefined;
  try {
    const masterKey = await args.arm.api.masterKey(args.arm.ref);
    return await createFunctionsHostApi({
      origin: `https://${hostName}`,
      masterKey,
      deadline: ctx.deadline,
      logger: ctx.logger,
    }).status();
  } catch (error) {
    ctx.logger.info(`status: the host status could not be read (${redactSas(messageOf(error))}).`);
    return undefined;
  }
}
