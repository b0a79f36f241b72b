import { PACKAGE_SETTINGS } from './settings.js';

export type PackageSettings = Partial<Record<(typeof PACKAGE_SETTINGS)[number], string>>;

/**
 * What the guarded section asked Azure to change, written down before each request goes out (a request left
 * unanswered may still have been applied). The restore undoes only what this run wrote, never a change made by
 * someone else in between.
 */
export class Journal {
  private written: PackageSettings | undefined;
  private deployed: 'sitepackages' | 'wwwroot' | 'release' | undefined;
  private kept: { name: string; file: string } | undefined;

  /** Called just before the settings PUT, with the values it sets. */
  settingsWritten(settings: Readonly<Record<string, string>>): void {
    this.written = Object.fromEntries(
      PACKAGE_SETTINGS.flatMap((k) => (settings[k] === undefined ? [] : [[k, settings[k]]])),
    );
  }

  /**
   * Called just before a package is sent: the app's content may change even when no setting does. Kudu puts it in
   * data/SitePackages (the app runs =1) or site/wwwroot (extracted or built there); a Flex publish makes it the
   * released package.
   */
  contentSent(where: 'sitepackages' | 'wwwroot' | 'release'): void {
    this.deployed = where;
  }

  /** The package the app ran from before (data/SitePackages), copied to a local file. */
  previousPackageKept(name: string, file: string): void {
    this.kept = { name, file };
  }

  get previousPackage(): { name: string; file: string } | undefined {
    return this.kept;
  }

  get settings(): PackageSettings | undefined {
    return this.written;
  }

  get content(): 'sitepackages' | 'wwwroot' | 'release' | undefined {
    return this.deployed;
  }
}
