/** A stored package as retention sees it. */
export interface RetainedPackage {
  blobName: string;
  /** When it was deployed, to the millisecond; undefined for a package stored without that record. */
  deployedAt: Date | undefined;
}

export interface RetentionRule {
  /** How many of the newest packages stay. */
  keep: number;
  /** Packages deployed longer ago than this go, beyond the newest `keep`. */
  maxAgeDays: number;
  /** Never deleted: what the app or any of its slots runs, the package just deployed, the previous one. */
  protect: readonly string[];
  now: Date;
}

/**
 * Pure: which packages of an app to delete. The `keep` newest stay, and nothing younger than `maxAgeDays`
 * beyond them; a protected package always stays. Packages are ordered by deployment time, newest first, with
 * those of unknown time last; an unknown time never makes a package old enough to delete by age.
 */
export function packagesToDelete(packages: readonly RetainedPackage[], rule: RetentionRule): string[] {
  const cutoff = rule.now.getTime() - rule.maxAgeDays * 86_400_000;
  const protectedNames = new Set(rule.protect);
  const time = (p: RetainedPackage) => p.deployedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  return [...packages]
    .sort((a, b) => time(b) - time(a) || b.blobName.localeCompare(a.blobName))
    .filter((p, index) => {
      if (protectedNames.has(p.blobName)) return false;
      const old = p.deployedAt !== undefined && p.deployedAt.getTime() < cutoff;
      return index >= rule.keep || old;
    })
    .map((p) => p.blobName);
}
