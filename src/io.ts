import * as core from '@actions/core';
import { type ArtifactStore, createArtifactStore } from './artifacts.js';
import type { Logger } from './logger.js';

/**
 * Everything the run exchanges with the runner: inputs, log and masks, outputs, the job summary, the failure,
 * artifacts, the environment and the clock. The action uses the runner's (`githubIO`); the in-process flow
 * tests pass their own.
 */
export interface ActionIO {
  getInput(name: string): string;
  logger: Logger;
  setOutput(name: string, value: string): void;
  writeSummary(markdown: string): Promise<void>;
  setFailed(message: string): void;
  artifacts: ArtifactStore;
  /** GITHUB_*, RUNNER_TEMP, SOURCE_DATE_EPOCH. */
  env: NodeJS.ProcessEnv;
  now(): Date;
}

export function githubIO(): ActionIO {
  const logger: Logger = {
    info: core.info,
    warning: (m) => core.warning(m),
    notice: (m) => core.notice(m),
    debug: core.debug,
    mask: core.setSecret,
  };
  return {
    getInput: (name) => core.getInput(name),
    logger,
    setOutput: core.setOutput,
    writeSummary: async (markdown) => {
      await core.summary.addRaw(markdown, true).write();
    },
    setFailed: core.setFailed,
    artifacts: createArtifactStore(),
    env: process.env,
    now: () => new Date(),
  };
}
