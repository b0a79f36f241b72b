import type { ActionIO } from './io.js';
import { redactSas } from './redact.js';
import type { RunResult } from './result.js';

/** Pure: output name → value. Values are redacted again here as a last line of defence. */
export function outputsOf(r: RunResult): Record<string, string> {
  const out: Record<string, string | undefined> = {
    mode: r.mode,
    'mode-reason': r.reasons.length ? r.reasons.join(' ') : undefined,
    'package-url': r.packageUrl,
    'package-sha256': r.packageSha256,
    'package-size': r.packageSize?.toString(),
    'package-reused': r.packageReused === undefined ? undefined : String(r.packageReused),
    'deployment-id': r.deploymentId,
    functions: r.functions ? JSON.stringify(r.functions) : undefined,
    'previous-package': r.previousPackage,
    'backup-artifact-name': r.backupArtifact?.name,
    'backup-artifact-id': r.backupArtifact?.id?.toString(),
    'record-artifact-name': r.recordArtifact?.name,
    'sas-expires-at': r.sasExpiresAt,
    'kudu-deployment-id': r.kuduDeploymentId,
    'app-url': r.appUrl,
    'template-path': r.templatePath,
    rotated: r.rotated === undefined ? undefined : String(r.rotated),
    drift: r.drift,
    'live-deployment-id': r.check?.deployment?.deploymentId,
  };
  return Object.fromEntries(
    Object.entries(out).flatMap(([k, v]) => (v === undefined ? [] : [[k, redactSas(v)]])),
  ) as Record<string, string>;
}

function formatBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const code = (s: string | undefined) => (s ? `\`${redactSas(s).replace(/`/g, "'")}\`` : '—');

function headline(r: RunResult): string {
  if (r.operation === 'status' && !r.error)
    return r.drift === 'none' ? '✅ status: no drift' : `⚠️ status: drift ${r.drift}`;
  if (r.status === 'dry-run') return '📝 dry run, nothing changed';
  if (r.operation === 'rotate-sas' && r.status === 'succeeded')
    return r.rotated ? '🔁 SAS rotated' : '✅ SAS rotation not needed';
  if (r.status === 'succeeded') return '✅ deployed';
  if (r.drift) return `❌ stopped on drift ${r.drift}, nothing was changed`;
  switch (r.restoration?.outcome) {
    case 'restored':
      return '❌ failed, previous package restored';
    case 'restored-restart-refused':
      return '❌ failed, previous setting restored but the restart was refused';
    case 'not-restored':
      return '❌ failed, NOT restored: restore by hand';
    case 'not-attempted':
      return '❌ failed, left as it is (rollback-on-failure off)';
    default:
      return '❌ failed, nothing was changed';
  }
}

/** Pure: the job summary as Markdown. */
export function summaryMarkdown(r: RunResult): string {
  const target = `${r.app}${r.slot ? ` (slot ${r.slot})` : ''}${r.resourceGroup ? ` in ${r.resourceGroup}` : ''}`;
  const lines: string[] = [`## Azure Functions deploy: ${target} — ${headline(r)}`, ''];
  if (r.error) lines.push(`> ${redactSas(r.error)}`, '');
  if (r.operation !== 'status')
    lines.push(`**Mode:** ${r.mode ?? '—'}${r.hosting ? ` (${r.hosting})` : ''}`, '');
  if (r.reasons.length) lines.push('**Why**', '', ...r.reasons.map((reason) => `- ${redactSas(reason)}`), '');
  const rows: [string, string][] = [
    ['Deployment id', code(r.deploymentId)],
    ['Previous package', code(r.previousPackage)],
    ['New package', code(r.newPackage)],
    [
      'Package size',
      `${formatBytes(r.packageSize)}${r.packageFileCount !== undefined ? `, ${r.packageFileCount} files` : ''}`,
    ],
    ['sha256', code(r.packageSha256)],
    [
      'Upload',
      r.packageReused === undefined
        ? '—'
        : r.packageReused
          ? 'skipped: same sha256 already stored'
          : 'uploaded',
    ],
    ['SAS expires', r.sasExpiresAt ?? '—'],
    ['Kudu deployment', code(r.kuduDeploymentId)],
    [
      'Functions listed',
      r.functions
        ? r.functions.length
          ? r.functions.map((f) => `\`${f}\``).join(', ')
          : 'none listed'
        : '—',
    ],
    ['Restore', r.restoration ? redactSas(r.restoration.detail) : '—'],
    ['Backup artifact', r.backupArtifact ? `\`${r.backupArtifact.name}\`` : '—'],
    ['Record artifact', r.recordArtifact ? `\`${r.recordArtifact.name}\`` : '—'],
    ['App', r.appUrl ?? '—'],
  ];
  // A status run deploys nothing: its own table says what the app runs.
  if (r.operation !== 'status')
    lines.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '');
  if (r.check) lines.push(...statusMarkdown(r.check));
  const phases = Object.entries(r.timingsMs);
  if (phases.length) {
    lines.push(
      '**Timings**',
      '',
      '| phase | seconds |',
      '|---|---|',
      ...phases.map(([p, ms]) => `| ${p} | ${(ms / 1000).toFixed(2)} |`),
      '',
    );
  }
  if (r.warnings.length) lines.push('**Warnings**', '', ...r.warnings.map((w) => `- ${redactSas(w)}`), '');
  return lines.join('\n');
}

function statusMarkdown(c: NonNullable<RunResult['check']>): string[] {
  const cell = (v: string | undefined) => (v ? v.replace(/\|/g, '\\|') : '—');
  const lines = [
    '**Status**',
    '',
    '| | |',
    '|---|---|',
    `| Drift | \`${c.drift}\` |`,
    `| Live package | ${code(c.live)} |`,
    `| Live deployment | ${c.deployment ? `\`${c.deployment.deploymentId}\` (sha256 \`${c.deployment.sha256.slice(0, 12)}…\`)` : "not one of this action's"} |`,
    `| Content | ${c.content ? `${c.content.exists ? (c.content.matches === false ? 'does NOT match the record' : c.content.matches ? 'matches the record' : 'unknown') : 'missing'} (${c.content.how})` : '—'} |`,
    `| SAS expires | ${c.sas ? `${c.sas.expiresAt} (${c.sas.daysLeft} days left)` : '—'} |`,
    `| Functions listed | ${c.functions.listed.length ? c.functions.listed.map((f) => `\`${f}\``).join(', ') : 'none'}${c.functions.missing.length ? `; missing ${c.functions.missing.map((f) => `\`${f}\``).join(', ')}` : ''} |`,
    `| Host | ${c.host ? `${c.host.state}${c.host.errors.length ? `: ${cell(c.host.errors.join('; '))}` : ''}` : '—'} |`,
    '',
  ];
  if (c.findings.length) lines.push(...c.findings.map((f) => `- ${redactSas(f)}`), '');
  if (c.history.length) {
    lines.push(
      '**Stored deployments** (newest first; pass one as `rollback-to`)',
      '',
      '| deployment id | time | commit | sha256 | size | live |',
      '|---|---|---|---|---|---|',
      ...c.history.map(
        (h) =>
          `| \`${h.deploymentId}\` | ${h.deployedAt ?? '—'} | ${h.commit ? `\`${h.commit.slice(0, 7)}\`` : '—'} | \`${h.sha256.slice(0, 12)}…\` | ${formatBytes(h.size)} | ${h.live ? '✅ live' : ''} |`,
      ),
      '',
    );
  }
  return lines;
}

/** Writes outputs and the job summary; a failure to write the summary is a warning, never the run's failure. */
export async function publish(r: RunResult, io: ActionIO): Promise<void> {
  for (const [name, value] of Object.entries(outputsOf(r))) io.setOutput(name, value);
  try {
    await io.writeSummary(summaryMarkdown(r));
  } catch (error) {
    io.logger.warning(`Could not write the job summary: ${(error as Error).message}`);
  }
}
