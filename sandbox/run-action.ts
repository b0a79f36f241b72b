import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST_ENTRY = join(root, 'dist', 'index.js');

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** Lines that are not `::add-mask::` commands: what the runner shows in the log. */
  visibleLog: string;
  /** Values the action asked the runner to mask. */
  masked: string[];
}

export interface RunOptions {
  /** Input name (as in action.yml) → value. */
  inputs: Record<string, string>;
  /** Sandbox variables (PATH with the az shim, CA, artifact service). */
  env: Record<string, string>;
  workspace: string;
  /** Extra variables, e.g. GITHUB_SHA. */
  extraEnv?: Record<string, string>;
  timeoutMs?: number;
}

/** Parses the GITHUB_OUTPUT file format written by @actions/core (`name<<delimiter` blocks). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (m?.[1] && m[2]) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) body.push(lines[i] ?? '');
      out[m[1]] = body.join('\n');
    } else {
      const eq = /^([^=]+)=(.*)$/.exec(lines[i] ?? '');
      if (eq?.[1]) out[eq[1]] = eq[2] ?? '';
    }
  }
  return out;
}

/** Runs the bundled action as a runner does: INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. */
export async function runAction(options: RunOptions): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'afpd-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary.md');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    PATH: options.env.PATH ?? process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: options.workspace,
    RUNNER_TEMP: dir,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKFLOW: 'deploy',
    GITHUB_REPOSITORY: 'octo/functions',
    GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    GITHUB_ACTOR: 'octocat',
    GITHUB_EVENT_NAME: 'push',
    ...options.env,
    ...options.extraEnv,
  };
  for (const [name, value] of Object.entries(options.inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const child = spawn(process.execPath, [DIST_ENTRY], {
    cwd: options.workspace,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `the action did not finish within ${options.timeoutMs ?? 120_000} ms:\n${stdout.slice(-3000)}\n${stderr.slice(-2000)}`,
        ),
      );
    }, options.timeoutMs ?? 120_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolvePromise(c);
    });
  });
  const masked = [...stdout.matchAll(/^::add-mask::(.*)$/gm)].map((m) => m[1] ?? '');
  const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'));
  const summary = readFileSync(summaryFile, 'utf8');
  // The runner empties RUNNER_TEMP after a job; so does this, or every run would leave its package behind.
  rmSync(dir, { recursive: true, force: true });
  return {
    code,
    stdout,
    stderr,
    outputs,
    summary,
    visibleLog: `${stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')}\n${stderr}`,
    masked,
  };
}
