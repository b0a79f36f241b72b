import { describe, expect, it } from 'vitest';
import { PackageError } from '../../src/errors.js';
import { type AppView, parseJsonc, validateApp } from '../../src/package/validate.js';

// validateApp on in-memory packages: one rule per row, exact messages and reports.

const HOST = '{"version": "2.0"}';
const http = { type: 'httpTrigger', direction: 'in', name: 'req' };
const fn = (...bindings: unknown[]) => JSON.stringify({ bindings });

/** An in-memory package; `read` of a name it does not hold fails, as a read of a missing file would. */
function view(files: Record<string, string | Uint8Array>, label = 'the folder app/'): AppView {
  return {
    names: Object.keys(files),
    label,
    read: async (name) => {
      const content = files[name];
      if (content === undefined) throw new Error(`ENOENT: ${name}`);
      return typeof content === 'string' ? Buffer.from(content) : content;
    },
  };
}
const validate = (files: Record<string, string | Uint8Array>) => validateApp(view(files));
async function refusal(files: Record<string, string | Uint8Array>): Promise<PackageError> {
  const error = await validate(files).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PackageError);
  return error as PackageError;
}

describe('exact refusals', () => {
  // JSON.parse's own words differ between Node versions: those rows match them loosely.
  it.each<[string, Record<string, string>, string | RegExp]>([
    [
      'host.json one level down, the shallowest named',
      { 'deep/er/host.json': HOST, 'app/host.json': HOST, 'node_modules/x/host.json': HOST },
      "No host.json at the root of the folder app/; found app/host.json. The app root is app/: point the package input there, or zip the folder's contents rather than the folder",
    ],
    [
      'host.json one level down, listed before a deeper one',
      { 'app/host.json': HOST, 'deep/er/host.json': HOST, 'a.js': 'x' },
      "No host.json at the root of the folder app/; found app/host.json. The app root is app/: point the package input there, or zip the folder's contents rather than the folder",
    ],
    [
      'host.json only under node_modules',
      { 'node_modules/pkg/host.json': HOST, 'a.js': 'x' },
      'No host.json at the root of the folder app/. Point the package input at the function app root (the folder holding host.json), or add a host.json with "version": "2.0"',
    ],
    [
      'host.json that is null',
      { 'host.json': 'null' },
      'host.json must say "version": "2.0" (found no version). Set "version": "2.0" in host.json: the Functions v4 runtime does not load 1.x apps',
    ],
    [
      'host.json that is an array',
      { 'host.json': '[{"version": "2.0"}]' },
      'host.json must say "version": "2.0" (found no version). Set "version": "2.0" in host.json: the Functions v4 runtime does not load 1.x apps',
    ],
    [
      'host.json version 2 as a number',
      { 'host.json': '{"version": 2}' },
      'host.json must say "version": "2.0" (found 2). Set "version": "2.0" in host.json: the Functions v4 runtime does not load 1.x apps',
    ],
    [
      'package.json not JSON',
      { 'host.json': HOST, 'package.json': '{' },
      /^package\.json in the folder app\/ is not valid JSON: [^\n]+\. Fix the syntax of package\.json$/,
    ],
    [
      'functions.metadata not JSON',
      { 'host.json': HOST, 'functions.metadata': '[' },
      /^functions\.metadata in the folder app\/ is not valid JSON: [^\n]+\. Rebuild the app \(dotnet publish\) so functions\.metadata is valid$/,
    ],
    [
      'functions.metadata not an array',
      { 'host.json': HOST, 'functions.metadata': '{"name": "F"}' },
      'functions.metadata is not a JSON array of functions. Deploy the output of dotnet publish unchanged',
    ],
    [
      'no code at all',
      { 'host.json': HOST, 'README.md': '# app', 'data.json': '{}', 'lib.jsx.txt': 'x' },
      'Nothing to deploy: the folder app/ has host.json but no function folders (*/function.json), no package.json "main" and no code. Add the functions (or build them) before this step, and check that .funcignore and the exclude input do not leave them out',
    ],
    [
      'a binding without a type, named',
      { 'host.json': HOST, 'F/function.json': fn({ direction: 'in', name: 'x' }) },
      'F/function.json binding 0 ("x") has no "type". Give every binding a "type", e.g. "httpTrigger" or "queue"',
    ],
    [
      'a binding with an empty type and no name',
      { 'host.json': HOST, 'F/function.json': fn(http, { type: '', direction: 'out' }) },
      'F/function.json binding 1 has no "type". Give every binding a "type", e.g. "httpTrigger" or "queue"',
    ],
    [
      'a binding whose name is not a string',
      { 'host.json': HOST, 'F/function.json': fn({ direction: 'in', name: 5 }) },
      'F/function.json binding 0 has no "type". Give every binding a "type", e.g. "httpTrigger" or "queue"',
    ],
    [
      'a binding that is null',
      { 'host.json': HOST, 'F/function.json': fn(null) },
      'F/function.json binding 0 has no "type". Give every binding a "type", e.g. "httpTrigger" or "queue"',
    ],
    [
      'a direction that is not a string',
      { 'host.json': HOST, 'F/function.json': fn({ ...http, direction: 1 }) },
      'F/function.json binding 0 ("req") has direction 1. Use "in", "out" or "inout"',
    ],
    [
      'an authLevel that is not a string',
      { 'host.json': HOST, 'F/function.json': fn({ ...http, authLevel: 5 }) },
      'F/function.json binding 0 ("req") has authLevel 5. Use "anonymous", "function" or "admin"',
    ],
    [
      'a method that is not a string',
      { 'host.json': HOST, 'F/function.json': fn({ ...http, methods: ['get', 5] }) },
      'F/function.json binding 0 ("req") has methods ["get",5]. Use an array of HTTP methods, e.g. ["get", "post"] (get, post, put, delete, patch, head, options, trace)',
    ],
    [
      'a trigger bound as inout',
      { 'host.json': HOST, 'F/function.json': fn({ ...http, direction: 'inout' }) },
      'F/function.json binding 0 ("req") is a trigger with direction "inout". A trigger binding must be "direction": "in"',
    ],
    [
      'main matching no file',
      { 'host.json': HOST, 'package.json': '{"main": "dist/*.js"}', 'src/a.ts': 'x' },
      'package.json "main" ("dist/*.js") matches no file in the folder app/. Build the app before this step (e.g. `npm run build`) so those files exist, or correct "main"; check that .funcignore and the exclude input do not leave them out',
    ],
  ])('%s', async (_name, files, message) => {
    const got = (await refusal(files)).message;
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
  });

  it('an empty package', async () => {
    expect((await refusal({})).message).toBe(
      'Nothing to deploy: the folder app/ has no files once the ignore rules are applied. Check the package input points at the app, and that .funcignore and the exclude input do not leave out everything',
    );
  });
});

describe('function.json apps', () => {
  it('every direction, auth level and HTTP method the runtime knows is accepted', async () => {
    const report = await validate({
      'host.json': HOST,
      'F/function.json': fn(
        {
          ...http,
          authLevel: 'Admin',
          methods: ['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'TRACE'],
        },
        { type: 'blob', direction: 'inout', name: 'b' },
        { type: 'queue', direction: 'OUT', name: 'q' },
        { type: 'triggeredQueue', direction: 'out', name: 't' },
      ),
    });
    expect(report).toEqual({
      functions: ['F'],
      model: 'function.json',
      warnings: [],
      pythonNeedsBuild: false,
    });
  });

  it.each(['anonymous', 'function', 'admin'])('authLevel %s is accepted', async (authLevel) => {
    const report = await validate({ 'host.json': HOST, 'F/function.json': fn({ ...http, authLevel }) });
    expect(report.functions).toEqual(['F']);
  });

  it('lists function folders sorted, only those at the top level', async () => {
    const report = await validate({
      'host.json': HOST,
      'Zeta/function.json': fn(http),
      'Alpha/function.json': fn(http),
      'lib/Nested/function.json': '{ not even JSON',
      'Old/function.json.bak': '{ not JSON either',
    });
    expect(report.functions).toEqual(['Alpha', 'Zeta']);
    expect(report.model).toBe('function.json');
  });

  it('warns once about missing node_modules, in the singular for one dependency', async () => {
    const report = await validate({
      'host.json': HOST,
      'F/function.json': fn(http),
      'package.json': '{"dependencies": {"lodash": "4"}}',
    });
    expect(report.warnings).toEqual([
      'package.json declares 1 dependency but the package has no node_modules: run `npm ci --omit=dev` before this step, or the functions fail to load them (unless the app builds remotely)',
    ]);
  });
});

describe('Python requirements and remote build', () => {
  const py = (extra: Record<string, string>) =>
    validate({ 'host.json': HOST, 'F/function.json': fn(http), 'F/__init__.py': 'x', ...extra });

  it.each<[string, Record<string, string>, boolean]>([
    ['requirements and no .python_packages', { 'requirements.txt': 'azure-functions\n' }, true],
    ['a requirement after comments', { 'requirements.txt': '# pinned\nrequests==2.32 # http\n' }, true],
    ['CRLF lines', { 'requirements.txt': '# pinned\r\nrequests\r\n' }, true],
    ['LF lines after a comment', { 'requirements.txt': '# only a comment\nrequests' }, true],
    ['no requirements.txt', {}, false],
    ['an empty requirements.txt', { 'requirements.txt': '' }, false],
    ['blank lines only', { 'requirements.txt': '\n   \n\t\n' }, false],
    ['comments only, some indented', { 'requirements.txt': '# a\n   # b\n' }, false],
    [
      'requirements and .python_packages',
      { 'requirements.txt': 'requests\n', '.python_packages/lib/site-packages/requests/__init__.py': 'x' },
      false,
    ],
  ])('%s: needs a build %s', async (_name, extra, needs) => {
    expect((await py(extra)).pythonNeedsBuild).toBe(needs);
  });
});

describe('Node.js v4 apps', () => {
  it('reads registrations only in the code files "main" names', async () => {
    const report = await validate({
      'host.json': HOST,
      'package.json': '{"main": "dist/*"}',
      'dist/a.js': "app.http ('a', {})",
      'dist/b.mjs': "app.timer('b', {})",
      'dist/c.cjs': "app.storageQueue('c', {})",
      'dist/d.ts': "app.get('d', {})",
      'dist/e.json': "app.http('notCode', {})",
      'dist/a.js.map': "app.http('notCodeEither', {})",
    });
    expect(report).toEqual({
      functions: ['a', 'b', 'c', 'd'],
      model: 'node-v4',
      warnings: [],
      pythonNeedsBuild: false,
    });
  });

  it('a main that is not a non-empty string is no main', async () => {
    for (const main of ['42', '"  "', 'null']) {
      const report = await validate({
        'host.json': HOST,
        'package.json': `{"main": ${main}}`,
        'index.js': 'x',
      });
      expect(report.model).toBe('other');
    }
  });

  it('reads at most 500 files and skips a file over 4 MiB', async () => {
    const files: Record<string, string | Uint8Array> = {
      'host.json': HOST,
      'package.json': '{"main": "dist/*.js"}',
    };
    for (let i = 1; i <= 501; i++)
      files[`dist/f${i}.js`] = i === 500 || i === 501 ? `app.http('f${i}', {})` : '';
    const pad = (name: string, size: number) => {
      const text = `app.http('${name}', {})`;
      const bytes = Buffer.alloc(size, 0x20);
      bytes.write(text);
      return bytes;
    };
    files['dist/f1.js'] = pad('exactly4MiB', 4 * 1024 * 1024);
    files['dist/f2.js'] = pad('over4MiB', 4 * 1024 * 1024 + 1);
    expect((await validate(files)).functions).toEqual(['exactly4MiB', 'f500']);
  });
});

describe('.NET isolated apps', () => {
  it('takes the string names of functions.metadata, once each, sorted', async () => {
    const report = await validate({
      'host.json': HOST,
      'functions.metadata': JSON.stringify([
        { name: 'B' },
        { name: 'A' },
        { name: 'A' },
        {},
        { name: 5 },
        'C',
        null,
      ]),
    });
    expect(report).toEqual({
      functions: ['A', 'B'],
      model: 'dotnet-isolated',
      warnings: [],
      pythonNeedsBuild: false,
    });
  });
});

describe('Python v2 apps', () => {
  it('reads the names from the decorators, without a warning', async () => {
    const report = await validate({
      'host.json': HOST,
      'function_app.py':
        '@app.route(route="b")\ndef b(r):\n    pass\n@app.timer_trigger(schedule="*")\ndef a(t):\n    pass\n',
      'requirements.txt': 'azure-functions\n',
    });
    expect(report).toEqual({
      functions: ['a', 'b'],
      model: 'python-v2',
      warnings: [],
      pythonNeedsBuild: true,
    });
  });

  it('a name that cannot be read: no names, with a warning', async () => {
    const report = await validate({
      'host.json': HOST,
      'function_app.py': '@app.function_name(name=NAME)\n@app.route(route="x")\ndef x(r):\n    pass\n',
    });
    expect(report).toEqual({
      functions: [],
      model: 'python-v2',
      warnings: [
        'The function names of function_app.py could not be read from its decorators: verification waits for at least one function instead',
      ],
      pythonNeedsBuild: false,
    });
  });
});

describe('apps whose functions are found at run time', () => {
  it.each([
    'run.js',
    'run.cjs',
    'run.mjs',
    'run.ts',
    'run.py',
    'run.ps1',
    'Mod.psm1',
    'bin/App.dll',
    'lib/app.jar',
    'run.csx',
    'run.fsx',
    'App.exe',
    'start.sh',
    'RUN.PS1',
    'bin/functions.metadata',
  ])('%s counts as code', async (name) => {
    const report = await validate({ 'host.json': HOST, [name]: 'x' });
    expect(report).toEqual({
      functions: [],
      model: 'other',
      warnings: [
        'No function.json folders or Node.js v4 "main" in the folder app/: the functions are found only when the app starts, so the functions list is empty',
      ],
      pythonNeedsBuild: false,
    });
  });

  it.each(['a.json', 'functions.metadata.bak', 'bin/myfunctions.metadata', 'a.jsx', 'notes.sh.txt'])(
    '%s is no code',
    async (name) => {
      expect((await refusal({ 'host.json': HOST, [name]: 'x' })).message).toMatch(/^Nothing to deploy: /);
    },
  );
});

describe('parseJsonc', () => {
  it.each<[string, string, unknown]>([
    ['a BOM', '\uFEFF{"a": 1}', { a: 1 }],
    ['a line comment at the end', '{"a": 1} // end', { a: 1 }],
    ['a block comment between tokens', '[1, /* two */ 2]', [1, 2]],
    ['an unterminated block comment at the end', '{"a": 1} /* open', { a: 1 }],
    ['a comment that opens with /*/', '/*/ {"a": 1} */ {"b": 2}', { b: 2 }],
    ['an escaped quote before a comment-like text', '{"a": "x\\" // y"}', { a: 'x" // y' }],
    ['an escaped backslash ending a string', '{"a": "x\\\\"} // c', { a: 'x\\' }],
    ['slashes inside strings', '{"u": "http://x//y", "c": "/* no */"}', { u: 'http://x//y', c: '/* no */' }],
  ])('%s', (_name, text, value) => {
    expect(parseJsonc(text)).toEqual(value);
  });

  it.each([
    ['a block comment separates tokens like a space', '[1/* c */2]'],
    ['a lone slash is no comment', '{"a": 1} /x'],
    ['a slash at the end is no comment', '{"a": 1}/'],
    ['an unterminated string', '{"a'],
    ['a star alone is no comment', '{"a": 1}*'],
    ['a star after a space is no comment', '[1, 2] *'],
  ])('%s: not JSON', (_name, text) => {
    expect(() => parseJsonc(text)).toThrow(SyntaxError);
  });
});
