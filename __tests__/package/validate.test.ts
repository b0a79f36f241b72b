import { describe, expect, it } from 'vitest';
import { PackageError } from '../../src/errors.js';
import { globToRegExp } from '../../src/package/glob.js';
import { findV4Registrations, parseJsonc } from '../../src/package/validate.js';
import { app, build, HOST, tempDir, writeTree } from './helpers.js';

const fn = (bindings: unknown) => JSON.stringify({ bindings });
const http = { type: 'httpTrigger', direction: 'in', name: 'req' };

async function failure(tree: Record<string, string>, exclude: string[] = []): Promise<PackageError> {
  const err = await build(writeTree(tempDir(), tree), { exclude }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PackageError);
  return err as PackageError;
}

describe('validation errors name the file and the fix', () => {
  it.each<[string, Record<string, string>, RegExp]>([
    [
      'no host.json',
      { 'Hello/function.json': fn([http]) },
      /No host\.json at the root of the folder .*\. Point the package input at the function app root/,
    ],
    [
      'host.json one level down',
      { 'app/host.json': HOST, 'app/Hello/function.json': fn([http]) },
      /No host\.json at the root .*; found app\/host\.json\. The app root is app\//,
    ],
    [
      'host.json not JSON',
      { 'host.json': '{"version": "2.0",,}' },
      /host\.json in the folder .* is not valid JSON: .*\. Fix the syntax of host\.json/,
    ],
    [
      'host.json without version',
      { 'host.json': '{}' },
      /host\.json must say "version": "2\.0" \(found no version\)\. Set "version": "2\.0"/,
    ],
    [
      'host.json version 1',
      { 'host.json': '{"version":"1.0"}' },
      /host\.json must say "version": "2\.0" \(found "1\.0"\)/,
    ],
    [
      'function.json not JSON',
      { 'host.json': HOST, 'Bad/function.json': '{ bindings: [] }' },
      /Bad\/function\.json in .* is not valid JSON.*Fix the syntax of Bad\/function\.json/,
    ],
    [
      'no bindings',
      { 'host.json': HOST, 'Bad/function.json': '{}' },
      /Bad\/function\.json has no bindings\. Add a "bindings" array/,
    ],
    [
      'empty bindings',
      { 'host.json': HOST, 'Bad/function.json': fn([]) },
      /Bad\/function\.json has no bindings/,
    ],
    [
      'no trigger',
      { 'host.json': HOST, 'Bad/function.json': fn([{ type: 'queue', direction: 'out', name: 'q' }]) },
      /Bad\/function\.json has 0 trigger bindings\. A function has exactly one trigger/,
    ],
    [
      'two triggers',
      {
        'host.json': HOST,
        'Bad/function.json': fn([
          http,
          { type: 'timerTrigger', direction: 'in', name: 't', schedule: '* * * * * *' },
        ]),
      },
      /Bad\/function\.json has 2 trigger bindings/,
    ],
    [
      'unknown direction',
      {
        'host.json': HOST,
        'Bad/function.json': fn([http, { type: 'queue', direction: 'sideways', name: 'q' }]),
      },
      /Bad\/function\.json binding 1 \("q"\) has direction "sideways"\. Use "in", "out" or "inout"/,
    ],
    [
      'missing direction',
      { 'host.json': HOST, 'Bad/function.json': fn([{ type: 'httpTrigger', name: 'req' }]) },
      /has direction null/,
    ],
    [
      'trigger as output',
      { 'host.json': HOST, 'Bad/function.json': fn([{ ...http, direction: 'out' }]) },
      /is a trigger with direction "out"\. A trigger binding must be "direction": "in"/,
    ],
    [
      'binding without type',
      { 'host.json': HOST, 'Bad/function.json': fn([{ direction: 'in', name: 'x' }]) },
      /binding 0 \("x"\) has no "type"/,
    ],
    [
      'bad authLevel',
      { 'host.json': HOST, 'Bad/function.json': fn([{ ...http, authLevel: 'public' }]) },
      /binding 0 \("req"\) has authLevel "public"\. Use "anonymous", "function" or "admin"/,
    ],
    [
      'methods not an array',
      { 'host.json': HOST, 'Bad/function.json': fn([{ ...http, methods: 'get' }]) },
      /has methods "get"\. Use an array of HTTP methods/,
    ],
    [
      'unknown method',
      { 'host.json': HOST, 'Bad/function.json': fn([{ ...http, methods: ['get', 'fetch'] }]) },
      /has methods \["get","fetch"\]/,
    ],
    [
      'v4 main matching no file',
      {
        'host.json': HOST,
        'package.json': JSON.stringify({ main: 'dist/src/functions/*.js' }),
        'src/functions/a.ts': 'x',
      },
      /package\.json "main" \("dist\/src\/functions\/\*\.js"\) matches no file in .*\. Build the app before this step/,
    ],
    [
      'nothing but host.json',
      { 'host.json': HOST },
      /Nothing to deploy: .* has host\.json but no function folders/,
    ],
    [
      'package.json not JSON',
      { 'host.json': HOST, 'package.json': '{', 'Hello/function.json': fn([http]) },
      /package\.json in .* is not valid JSON/,
    ],
  ])('%s', async (_case, tree, message) => {
    expect((await failure(tree)).message).toMatch(message);
  });

  it('nothing to deploy once the ignore rules are applied', async () => {
    const err = await failure({ 'host.json': HOST, 'Hello/function.json': fn([http]) }, ['*']);
    expect(err.message).toMatch(/Nothing to deploy: .* has no files once the ignore rules are applied/);
  });

  it('main matching only files that .funcignore leaves out', async () => {
    const err = await failure({
      'host.json': HOST,
      '.funcignore': 'dist/',
      'package.json': '{"main":"dist/index.js"}',
      'dist/index.js': 'x',
    });
    expect(err.message).toMatch(/matches no file.*check that \.funcignore/);
  });
});

describe('what validation accepts and reports', () => {
  it('accepts comments in host.json and function.json, as the Functions host does', async () => {
    const dir = app({
      'host.json': '\uFEFF// the app\n{ "version": "2.0" /* v4 */, "url": "http://x//y" }',
      'Hello/function.json': `{ // one trigger\n "bindings": ${JSON.stringify([{ ...http, authLevel: 'ANONYMOUS', methods: ['GET', 'post'] }])} }`,
    });
    expect((await build(dir)).functions).toEqual(['Hello']);
  });

  it('warns when dependencies are declared but node_modules is missing', async () => {
    const r = await build(
      app({ 'package.json': JSON.stringify({ dependencies: { lodash: '4', uuid: '9' } }) }),
    );
    expect(r.warnings).toEqual([
      expect.stringMatching(
        /package\.json declares 2 dependencies but the package has no node_modules: run `npm ci --omit=dev`/,
      ),
    ]);
    const ok = await build(
      app({
        'package.json': JSON.stringify({ dependencies: { lodash: '4' } }),
        'node_modules/lodash/index.js': 'x',
      }),
    );
    expect(ok.warnings).toEqual([]);
  });

  it('finds v4 functions across the files "main" names', async () => {
    const dir = writeTree(tempDir(), {
      'host.json': HOST,
      'package.json': JSON.stringify({ main: 'dist/{functions,jobs}/**/*.js', dependencies: {} }),
      'dist/functions/http.js':
        "const { app } = require('@azure/functions');\napp.http('hello', { handler });\napp.get(\"getItem\", h);\n",
      'dist/jobs/nightly/timer.js':
        'app . timer( `nightly` , { schedule: "0 0 * * *" });\napp.setup({ enableHttpStream: true });',
      'dist/other/ignored.js': "app.http('notMain', {})",
    });
    expect((await build(dir)).functions).toEqual(['getItem', 'hello', 'nightly']);
  });

  it('warns when a v4 app registers nothing that can be found', async () => {
    const r = await build(
      writeTree(tempDir(), {
        'host.json': HOST,
        'package.json': '{"main":"index.js"}',
        'index.js': 'module.exports = 1',
      }),
    );
    expect(r.functions).toEqual([]);
    expect(r.warnings.join()).toMatch(/No app\.<trigger>\('name', …\) registration found/);
  });

  it('accepts a Python v2 app whose names cannot be read, with a warning', async () => {
    const r = await build(
      writeTree(tempDir(), { 'host.json': HOST, 'function_app.py': 'import azure.functions as func\n' }),
    );
    expect(r.functions).toEqual([]);
    expect(r.warnings.join()).toMatch(
      /could not be read from its decorators: verification waits for at least one function/,
    );
  });

  it('accepts an app whose functions are found only at run time (e.g. a PowerShell profile), with a warning', async () => {
    const r = await build(writeTree(tempDir(), { 'host.json': HOST, 'run.ps1': 'param($x)\n' }));
    expect(r.functions).toEqual([]);
    expect(r.warnings.join()).toMatch(/found only when the app starts/);
  });
});

describe('helpers', () => {
  it.each<[string, string, boolean]>([
    ['src/functions/*.js', 'src/functions/a.js', true],
    ['src/functions/*.js', 'src/functions/sub/a.js', false],
    ['./src/index.js', 'src/index.js', true],
    ['dist/**/*.js', 'dist/a.js', true],
    ['dist/**/*.js', 'dist/x/y/a.js', true],
    ['dist/**/*.js', 'dist/a.ts', false],
    ['{a,b}/*.js', 'b/x.js', true],
    ['src/[ab].js', 'src/b.js', true],
    ['src/?.js', 'src/ab.js', false],
    ['a+b.js', 'a+b.js', true],
  ])('glob %s against %s is %s', (glob, path, want) => {
    expect(globToRegExp(glob).test(path)).toBe(want);
  });

  it('parses JSON with comments without touching strings', () => {
    expect(parseJsonc('{"a": "// not a comment", /* c */ "b": "/* nor */"} // end')).toEqual({
      a: '// not a comment',
      b: '/* nor */',
    });
  });

  it('finds registrations with any quote', () => {
    expect(
      findV4Registrations(
        `app.http('a', {}); app.storageQueue("b", {}); app.timer(\`c\`, {}); notapp.http('d')`,
      ),
    ).toEqual(['a', 'b', 'c']);
  });
});
