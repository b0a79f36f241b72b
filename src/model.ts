import type { TokenCredential } from '@azure/core-auth';
import type { AppServiceApi, SiteInfo, SiteRef } from './azure/appservice.js';
import type { KuduApi } from './azure/kudu.js';
import type { StoredBlob } from './azure/storage.js';
import type { Target } from './documents.js';
import type { PublishProfile } from './inputs.js';
import type { AppState } from './plan.js';
import type { Deadline } from './retry.js';

/** The types steps hand each other through main.ts; no step imports another. */

/** What the app looks like before anything is changed: the plan's input, and what a restore goes back to. */
export interface Inspection {
  /** undefined with a publish profile (Kudu alone has no view of the site). */
  site: SiteInfo | undefined;
  settings: Record<string, string>;
  app: AppState;
}

interface PackageCommon {
  sha256: string;
  size: number;
  fileCount: number;
  /** Function names found in the package: what verification expects the platform to list. */
  functions: string[];
}

/** A package built from the `package` input into a local zip. */
export interface BuiltPackage extends PackageCommon {
  kind: 'built';
  path: string;
  templatePath: string | undefined;
  warnings: string[];
  pythonNeedsBuild: boolean;
}

/** A package already in storage (rollback-to): nothing is built or uploaded. */
export interface StoredPackage extends PackageCommon {
  kind: 'stored';
  blob: StoredBlob;
  deploymentId: string;
}

/** A stored package fetched into a local zip, to be zip-deployed (rollback-to on an app that runs from =1). */
export interface FetchedPackage extends PackageCommon {
  kind: 'fetched';
  path: string;
  blob: StoredBlob;
  deploymentId: string;
}

export type Package = BuiltPackage | StoredPackage | FetchedPackage;
/** A package with a local zip: what Kudu can be sent. */
export type LocalPackage = BuiltPackage | FetchedPackage;

/** How the run reaches the app: ARM with the logged-in identity, or Kudu alone with a publish profile. */
export type Connection = ArmConnection | ProfileConnection;

export interface ArmConnection {
  kind: 'arm';
  ref: SiteRef;
  /** The site's kind from the resource-group lookup; undefined when resource-group was given. */
  lookedUpKind: string | undefined;
  storageSuffix: string;
  /** Cached per scope: one `az` token request per scope per run. */
  credential: TokenCredential;
  armScope: string;
  /** The ARM client bound to a deadline: the run's, or the restore's own grace budget. */
  arm(deadline: Deadline): AppServiceApi;
}

export interface ProfileConnection {
  kind: 'publish-profile';
  target: { app: string; slot: string | undefined };
  profile: PublishProfile;
  kudu(deadline: Deadline): KuduApi;
}

export function targetOf(connection: Connection): Target {
  return connection.kind === 'arm'
    ? {
        app: connection.ref.name,
        resourceGroup: connection.ref.resourceGroup,
        subscriptionId: connection.ref.subscriptionId,
        slot: connection.ref.slot,
      }
    : { ...connection.target, resourceGroup: undefined, subscriptionId: undefined };
}

/** The name the Flex platform gives the package it runs (vscode-azurefunctions#4494 deployment log). */
export const RELEASED_PACKAGE = 'released-package.zip';

/** A Flex app's current package, kept before a publish replaces it. */
export interface KeptRelease {
  /** A local copy: what a restore publishes again. */
  file: string;
  sha256: string;
  /** Where it is kept in the package store (a package of ours with that content, or a fresh copy). */
  blob: StoredBlob;
}
