import * as core from '@actions/core';
import { redactSas } from './redact.js';

/** Everything a run found and did; outputs, the job summary and the record all come from it. */
export interface DeployResult {
  app: string;
  resourceGroup: string | undefined;
  slot: string | undefined;
  dryRun: boolean;
  mode: string | undefined;
  reasons: string[];
  deploymentId: string | undefined;
  hosting: string | undefined;
  previousPackage: string | undefined;
  newPackage: string | undefined;
  packageUrl: string | undefined;
  packageSha256: string | undefined;
  packageSize: number | undefined;
  packageFileCount: number | undefined;
  packageReused: boolean;
  templatePath: string | undefined;
  sasExpiresAt: string | undefined;
  kuduDeploymentId: string | undefined;
  functions: string[] | undefined;
  backupArtifact: { name: string; id: number | undefined } | undefined;
  recordArtifact: { name: string; id: number | undefined } | undefined;
  appUrl: string | undefined;
  rolledBack: boolean;
  warnings: string[];
  timingsMs: Record<string, number>;
  error: string | undefined;
}

export function emptyResult(app: string): DeployResult {
  return {
    app,
    resourceGroup: undefined,
    slot: undefined,
    dryRun: false,
    mode: undefined,
    reasons: [],
    deploymentId: undefined,
    hosting: undefined,
    previousPackage: undefined,
    newPackage: undefined,
    packageUrl: undefined,
    packageSha256: undefined,
    packageSize: undefined,
    packageFileCount: undefined,
    packageReused: false,
    templatePath: undefined,
    sasExpiresAt: undefined,
    kuduDeploymentId: undefined,
    functions: undefined,
    backupArtifact: undefined,
    recordArtifact: undefined,
    appUrl: undefined,
    rolledBack: false,
    warnings: [],
    timingsMs: {},
    error: undefined,
  };
}

/** Pure: output name → value. Values are redacted again here as a last line of defence. */
export function outputsOf(r: DeployResult): Record<string, string> {
  const out: Record<string, string | undefined> = {
    mode: r.mode,
    'mode-reason': r.reasons.length ? r.reasons.join(' ') : undefined,
    'package-url': r.packageUrl,
    'package-sha256': r.packageSha256,
    'package-size': r.packageSize?.toString(),
    'package-reused': r.packageSha256 ? String(r.packageReused) : undefined,
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

/** Pure: the job summary as Markdown. */
export function summaryMarkdown(r: DeployResult): string {
  const status = r.error
    ? r.rolledBack
      ? '❌ failed, previous package restored'
      : '❌ failed'
    : r.dryRun
      ? '📝 dry run, nothing changed'
      : '✅ deployed';
  const target = `${r.app}${r.slot ? ` (slot ${r.slot})` : ''}${r.resourceGroup ? ` in ${r.resourceGroup}` : ''}`;
  const lines: string[] = [`## Azure Functions deploy: ${target} — ${status}`, ''];
  if (r.error) lines.push(`> ${redactSas(r.error)}`, '');
  lines.push(`**Mode:** ${r.mode ?? '—'}${r.hosting ? ` (${r.hosting})` : ''}`, '');
  if (r.reasons.length) {
    lines.push('**Why**', '', ...r.reasons.map((reason) => `- ${redactSas(reason)}`), '');
  }
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
      r.packageSha256 ? (r.packageReused ? 'skipped: same sha256 already stored' : 'uploaded') : '—',
    ],
    ['SAS expires', r.sasExpiresAt ?? '—'],
    ['Kudu deployment', code(r.kuduDeploymentId)],
    [
      'Functions',
      r.functions
        ? r.functions.length
          ? r.functions.map((f) => `\`${f}\``).join(', ')
          : 'none listed'
        : '—',
    ],
    ['Backup artifact', r.backupArtifact ? `\`${r.backupArtifact.name}\`` : '—'],
    ['Record artifact', r.recordArtifact ? `\`${r.recordArtifact.name}\`` : '—'],
    ['App', r.appUrl ?? '—'],
  ];
  lines.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '');
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

/** Writes outputs and the job summary; a failure to write the summary is a warning, never the run's failure. */
export async function publish(r: DeployResult): Promise<void> {
  for (const [name, value] of Object.entries(outputsOf(r))) core.setOutput(name, value);
  try {
    await core.summary.addRaw(summaryMarkdown(r), true).write();
  } catch (error) {
    core.warning(`Could not write the job summary: ${(error as Error).message}`);
  }
}
