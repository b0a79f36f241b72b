import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { getInputs, Inputs } from '../../src/inputs.js';
import { outputsOf } from '../../src/report.js';
import type { RunResult } from '../../src/result.js';

const action = parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
};

describe('action.yml', () => {
  it('declares exactly the inputs the action reads, on node24', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  it("its defaults are the action's own (the runner passes them when a workflow sets nothing)", () => {
    const withDefaults = getInputs((name) =>
      name === 'app-name' ? 'app' : (action.inputs[name]?.default ?? ''),
    );
    const withNothing = getInputs((name) => (name === 'app-name' ? 'app' : ''));
    expect(withDefaults).toEqual(withNothing);
  });

  it('declares every output the action can set', () => {
    const everything = {
      mode: 'm',
      reasons: ['r'],
      packageUrl: 'u',
      packageSha256: 's',
      packageSize: 1,
      packageReused: true,
      deploymentId: 'd',
      functions: [],
      previousPackage: 'p',
      backupArtifact: { name: 'b', id: 1 },
      recordArtifact: { name: 'r', id: 2 },
      sasExpiresAt: 'e',
      kuduDeploymentId: 'k',
      appUrl: 'a',
      templatePath: 't',
      rotated: true,
      drift: 'none',
      check: { deployment: { deploymentId: 'l' } },
    } as unknown as RunResult;
    expect(Object.keys(outputsOf(everything)).sort()).toEqual(Object.keys(action.outputs).sort());
  });
});
