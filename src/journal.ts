import { PACKAGE_SETTINGS } from './settings.js';

export type PackageSettings = Partial<Record<(typeof PACKAGE_SETTINGS)[number], string>>;

/**
 * What the guarded section asked Azure to change, written down before each request goes out (a request left
 * unanswered may still have been applied). The restore undoes only what this run wrote, never a change made by
 * someone else in between.
 */
export class Journal {
  private written: PackageSettings | undefined;
  private deployed: string | undefined;

  /** Called just before the settings PUT, with the values it sets. */
  settingsWritten(settings: Readonly<Record<string, string>>): void {
    this.written = Object.fromEntries(
      PACKAGE_SETTINGS.flatMap((k) => (settings[k] === undefined ? [] : [[k, settings[k]]])),
    );
  }

  /** Called just before a zipdeploy is sent: the app's content may change even when no setting does. */
  contentSent(where: string): void {
    this.deployed = where;
  }

  get settings(): PackageSettings | undefined {
    return this.written;
  }

  get content(): string | undefined {
    return this.deployed;
  }
}
