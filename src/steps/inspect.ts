import { describeSite, type SiteInfo } from '../azure/appservice.js';
import type { RunContext } from '../context.js';
import type { Connection, Inspection } from '../model.js';
import { classifyHosting, flexHasNoSlots, packageSetting } from '../plan.js';
import { redactSas } from '../redact.js';
import { statusOf } from '../retry.js';
import { maskSettingValue, sasExpiryWarning } from '../settings.js';

export async function inspect(ctx: RunContext, connection: Connection): Promise<Inspection> {
  const { deadline, logger } = ctx;
  let site: SiteInfo | undefined;
  let settings: Record<string, string>;
  let where: string;
  let fx = '';
  if (connection.kind === 'arm') {
    const arm = connection.arm(deadline);
    let linuxFxVersion: string;
    const { ref } = connection;
    // Only a Linux site has a linuxFxVersion; a lookup that already said Windows saves the config/web read.
    const windows = connection.lookedUpKind !== undefined && !/linux/i.test(connection.lookedUpKind);
    [site, linuxFxVersion, settings] = await Promise.all([
      arm.getSite(ref),
      windows ? Promise.resolve('') : arm.linuxFxVersion(ref),
      arm.listSettings(ref),
    ]).catch(async (error: unknown) => {
      // A slot that does not exist on a Flex app: say why (Flex has no slots) rather than only "not found".
      if (ref.slot && statusOf(error) === 404) {
        const production = await arm.getSite({ ...ref, slot: undefined }).catch(() => undefined);
        if (production && classifyHosting(production.sku) === 'flex-consumption') {
          throw flexHasNoSlots(ref.slot);
        }
      }
      throw error;
    });
    fx = linuxFxVersion;
    where = describeSite(connection.ref);
  } else {
    settings = await connection.kudu(deadline).settings();
    where = `${connection.target.app} through the publish profile's SCM site`;
  }
  // Setting values are masked before anything could print them: SAS signatures, keys, connection strings.
  for (const value of Object.values(settings)) maskSettingValue(value, logger);
  const current = packageSetting(settings);
  logger.info(
    `Inspected ${where}${site ? `: kind '${site.kind}', sku '${site.sku}', state ${site.state}` : ''}, WEBSITE_RUN_FROM_PACKAGE=${current === undefined ? '(absent)' : redactSas(current)}`,
  );
  const warning = sasExpiryWarning(current, 'The current package URL', ctx.now());
  if (warning) logger.warning(warning);
  return {
    site,
    settings,
    app: {
      site: site ? { kind: site.kind, sku: site.sku, linuxFxVersion: fx, flex: site.flex } : undefined,
      settings,
      storageSuffix: connection.kind === 'arm' ? connection.storageSuffix : 'core.windows.net',
    },
  };
}
