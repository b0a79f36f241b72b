import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPackage } from '../../src/package/index.js';
import { pythonV2Functions } from '../../src/package/python.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const quiet = { info: () => {}, warning: () => {} };
const outDirs: string[] = [];
const outDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'afpd-discovery-'));
  outDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});
const build = (source: string) =>
  buildPackage({
    source,
    workspace: ROOT,
    outDir: outDir(),
    exclude: [],
    compressionLevel: 1,
    logger: quiet,
  });

describe('function names a package declares, for verification', () => {
  it('.NET isolated: the names in functions.metadata', async () => {
    const pkg = await build('examples/dotnet-isolated');
    expect(pkg.functions).toEqual(['HttpHello', 'NightlyCleanup']);
  });

  it('Python v2: decorated functions, function_name wins, imported blueprints count', async () => {
    const pkg = await build('examples/python-v2');
    expect(pkg.functions).toEqual(['Tick', 'hello', 'on_work_item']);
  });
});

describe('pythonV2Functions', () => {
  const one = (text: string) =>
    pythonV2Functions('function_app.py', (f) => (f === 'function_app.py' ? text : undefined));

  it.each([
    ['a route', '@app.route(route="x")\ndef x(req):\n    pass\n', ['x']],
    [
      'a named timer',
      '@app.function_name(name="T")\n@app.timer_trigger(schedule="*")\ndef t(timer):\n    pass\n',
      ['T'],
    ],
    [
      'an async queue trigger',
      '@app.queue_trigger(arg_name="m",\n    queue_name="q")\nasync def q(m):\n    pass\n',
      ['q'],
    ],
    [
      'a plain helper is no function',
      'def helper():\n    pass\n@app.route(route="a")\ndef a(r):\n    pass\n',
      ['a'],
    ],
    ['a decorator without a trigger is no function', '@staticmethod\ndef s():\n    pass\n', []],
    [
      'a nested def under a decorator is not top level',
      '@app.route(route="o")\ndef outer(r):\n    @app.route(route="i")\n    def inner(x):\n        pass\n',
      ['outer'],
    ],
  ] as const)('%s', (_name, text, expected) => {
    expect(one(text)).toEqual(expected);
  });

  it('a computed function_name makes the names unknown', () => {
    expect(
      one('@app.function_name(name=NAME)\n@app.route(route="x")\ndef x(r):\n    pass\n'),
    ).toBeUndefined();
  });

  it('follows imports of modules in the package, once', () => {
    const files: Record<string, string> = {
      'function_app.py': 'import shared\nfrom blueprints.jobs import bp\nimport os\n',
      'blueprints/jobs.py': 'import shared\n@bp.schedule(schedule="*")\ndef nightly(t):\n    pass\n',
      'shared.py': 'import function_app\n',
    };
    expect(pythonV2Functions('function_app.py', (f) => files[f])).toEqual(['nightly']);
  });
});
