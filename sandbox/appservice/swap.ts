import type { Context } from './context.js';
import { findSite, label, recordEvent, type Site } from './state.js';

/**
 * A slot swap, as Learn functions-deployment-slots ("Swap operations", "Manage settings") describes it: the app
 * settings move with the content unless they are slot settings (`config/slotConfigNames`, "sticky"), and
 * WEBSITE_RUN_FROM_PACKAGE is an app setting like any other [DOC; azure-contract.md H]. Both sites restart.
 */
export function swapSites(ctx: Context, a: Site, b: Site, reason: string): void {
  const production = findSite(ctx.sites, a.app.name, 'production') as Site;
  const sticky = new Set(production.slotConfigNames.appSettingNames.map((n) => n.toLowerCase()));
  const split = (settings: Record<string, string>) => {
    const stays: Record<string, string> = {};
    const moves: Record<string, string> = {};
    for (const [key, value] of Object.entries(settings)) {
      if (sticky.has(key.toLowerCase())) stays[key] = value;
      else moves[key] = value;
    }
    return { stays, moves };
  };
  const fromA = split(a.settings);
  const fromB = split(b.settings);
  a.settings = { ...fromB.moves, ...fromA.stays };
  b.settings = { ...fromA.moves, ...fromB.stays };
  // The content is what routes to the other slot: site/wwwroot and data/SitePackages, and with them whether that
  // content ran from a local package.
  [a.wwwroot, b.wwwroot] = [b.wwwroot, a.wwwroot];
  [a.sitePackages, b.sitePackages] = [b.sitePackages, a.sitePackages];
  [a.platform.ranFromLocalPackage, b.platform.ranFromLocalPackage] = [
    b.platform.ranFromLocalPackage,
    a.platform.ranFromLocalPackage,
  ];
  recordEvent(a, 'swap', `${reason}: with ${label(b)}`);
  recordEvent(b, 'swap', `${reason}: with ${label(a)}`);
  void ctx.platform.reload(a, 'slot swap', { register: true });
  void ctx.platform.reload(b, 'slot swap', { register: true });
}

/** Whether both sites of a swap have restarted and loaded their new content. */
export function swapDone(sites: Site[]): boolean {
  const now = Date.now();
  return sites.every((s) => s.platform.ready && now >= s.platform.recycleUntil);
}
