import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox } from '../../sandbox/index.js';
import { createArtifactStore } from '../../src/artifacts.js';
import { Inputs } from '../../src/inputs.js';
import type { ActionIO } from '../../src/io.js';
import { run } from '../../src/main.js';
import { ROOT } from '../e2e/helpers.js';

/** What an in-process run of src/ showed on each surface the runner has. */
export interface FlowRun {
  failed: string | undefined;
  outputs: Record<string, string>;
  summary: string;
  /** Every log line, with its level: `info: …`, `warning: …`, `notice: …`. */
  log: string[];
  masked: string[];
}

/**
 * Runs `src/main.ts` in this process against the sandbox, with a recording ActionIO: real SDKs, the az shim,
 * the real artifact client against the fake service. The process environment points at the sandbox (the az
 * shim on PATH, the artifact service), as the runner's does after azure/login.
 */
export function useSandboxEnvironment(sb: Sandbox): void {
  Object.assign(process.env, sb.env);
  delete process.env.GITHUB_SERVER_URL;
}

const KNOWN = new Set<string>(Object.values(Inputs));

export async function runFlow(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<FlowRun> {
  for (const name of Object.keys(inputs)) if (!KNOWN.has(name)) throw new Error(`unknown input '${name}'`);
  const result: FlowRun = { failed: undefined, outputs: {}, summary: '', log: [], masked: [] };
  const line = (level: string) => (message: string) => result.log.push(`${level}: ${message}`);
  const runnerTemp = mkdtempSync(join(tmpdir(), 'afpd-flow-'));
  const io: ActionIO = {
    getInput: (name) => ({ timeout: '30s', ...inputs })[name] ?? '',
    logger: {
      info: line('info'),
      warning: line('warning'),
      notice: line('notice'),
      debug: () => {},
      mask: (secret) => result.masked.push(secret),
    },
    setOutput: (name, value) => {
      result.outputs[name] = value;
    },
    writeSummary: async (markdown) => {
      result.summary = markdown;
    },
    setFailed: (message) => {
      result.failed = message;
    },
    artifacts: createArtifactStore(),
    env: {
      GITHUB_WORKSPACE: ROOT,
      RUNNER_TEMP: runnerTemp,
      GITHUB_RUN_ID: '777',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_WORKFLOW: 'flow',
      GITHUB_REPOSITORY: 'octo/functions',
      GITHUB_SHA: 'f10f10f10f10f10f10f10f10f10f10f10f10f10f',
      GITHUB_ACTOR: 'octocat',
      GITHUB_EVENT_NAME: 'workflow_dispatch',
      ...env,
    },
    now: () => new Date(),
  };
  try {
    await run(io);
  } finally {
    rmSync(runnerTemp, { recursive: true, force: true }); // as the runner empties it after the job
  }
  return result;
}
