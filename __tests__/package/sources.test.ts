import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { GENERATED_HOST_JSON } from '../../src/package/arm.js';
import {
  app,
  build,
  fileNames,
  HOST,
  HTTP_FUNCTION,
  openZip,
  tempDir,
  unzipTest,
  zipText,
} from './helpers.js';

const examples = join(import.meta.dirname, '../../examples');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function makeZip(
  entries: Record<string, string>,
  opts: { unixPermissions?: Record<string, number> } = {},
): Promise<string> {
  const zip = new JSZip();
  for (const [name, content] of Object.entries(entries)) {
    const mode = opts.unixPermissions?.[name];
    zip.file(name, content, mode === undefined ? {} : { unixPermissions: mode });
  }
  const path = join(tempDir(), 'app.zip');
  writeFileSync(path, await zip.generateAsync({ type: 'nodebuffer', platform: 'UNIX' }));
  return path;
}

describe('a supplied .zip', () => {
  it('is validated, then used byte for byte', async () => {
    const dir = app({ 'Other/function.json': HTTP_FUNCTION });
    const userZip = join(tempDir(), 'user.zip');
    execFileSync('zip', ['-q', '-r', '-9', '-X', userZip, '.'], { cwd: dir });
    const r = await build(userZip);
    expect(r.source).toBe('zip');
    expect(r.functions).toEqual(['Hello', 'Other']);
    expect(r.fileCount).toBe(4);
    const original = readFileSync(userZip);
    expect(readFileSync(r.path).equals(original)).toBe(true);
    expect(r.sha256).toBe(sha(original));
    expect(r.size).toBe(original.length);
    expect(r.path).not.toBe(userZip);
  });

  it('accepts a package this builder made (ZIP64 records and all)', async () => {
    const first = await build(app());
    const again = await build(first.path);
    expect(again.sha256).toBe(first.sha256);
    expect(again.functions).toEqual(['Hello']);
  });

  it('refuses a file that is not a zip', async () => {
    const path = join(tempDir(), 'broken.zip');
    writeFileSync(path, 'PK\u0003\u0004 but not really');
    await expect(build(path)).rejects.toThrow(/broken\.zip is not a readable zip: .*Rebuild the zip/);
  });

  it.each(['../evil.js', '/etc/cron.d/x', 'a/../../evil.js', 'C:/Windows/evil.dll', '..\\evil.js'])(
    'refuses the unsafe name %s',
    async (name) => {
      const path = await makeZip({ 'host.json': HOST, 'Hello/function.json': HTTP_FUNCTION, [name]: 'x' });
      await expect(build(path)).rejects.toThrow(
        /contains the unsafe path .*Rebuild the zip from inside the app folder/,
      );
    },
  );

  it('refuses a symlink entry', async () => {
    const path = await makeZip(
      { 'host.json': HOST, 'Hello/function.json': HTTP_FUNCTION, 'node_modules/.bin/tool': '../tool/cli.js' },
      { unixPermissions: { 'node_modules/.bin/tool': 0o120777 } },
    );
    await expect(build(path)).rejects.toThrow(/stores node_modules\/\.bin\/tool as a symbolic link/);
  });

  it('refuses a zip of the folder instead of its contents, saying so', async () => {
    const path = await makeZip({ 'myapp/host.json': HOST, 'myapp/Hello/function.json': HTTP_FUNCTION });
    await expect(build(path)).rejects.toThrow(
      /found myapp\/host\.json\. The app root is myapp\/: .*zip the folder's contents/,
    );
  });

  it('validates the functions inside', async () => {
    const path = await makeZip({ 'host.json': HOST, 'Bad/function.json': '{"bindings": []}' });
    await expect(build(path)).rejects.toThrow(/Bad\/function\.json has no bindings/);
  });

  it('also takes a zip Info-ZIP stored symlinks in as files (zip without -y)', async () => {
    const dir = app({ 'real.js': 'r' });
    symlinkSync('real.js', join(dir, 'link.js'));
    const userZip = join(tempDir(), 'followed.zip');
    execFileSync('zip', ['-q', '-r', userZip, '.'], { cwd: dir });
    expect((await build(userZip)).fileCount).toBe(5);
  });
});

describe('an ARM template with inline functions', () => {
  it('lifts the functions out and writes a slimmed template', async () => {
    const outDir = tempDir();
    const r = await build(join(examples, 'arm-inline.json'), { outDir });
    expect(r.source).toBe('arm-template');
    expect(r.functions).toEqual(['HttpHello', 'TimerTick']);
    expect(r.templatePath).toBe(join(outDir, 'template.json'));
    expect(unzipTest(r.path)).toMatch(/No errors/);

    const zip = await openZip(r.path);
    expect(fileNames(zip)).toEqual([
      'HttpHello/function.json',
      'HttpHello/index.js',
      'TimerTick/function.json',
      'TimerTick/index.js',
      'host.json',
      'package.json',
    ]);
    expect(JSON.parse(await zipText(zip, 'host.json'))).toEqual({
      version: '2.0',
      extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' },
    });
    expect(JSON.parse(await zipText(zip, 'package.json'))).toMatchObject({ private: true, dependencies: {} });
    const fj = JSON.parse(await zipText(zip, 'HttpHello/function.json'));
    expect(fj.bindings[0]).toMatchObject({
      type: 'httpTrigger',
      authLevel: 'anonymous',
      methods: ['get', 'post'],
    });
    expect(await zipText(zip, 'HttpHello/index.js')).toMatch(
      /^module\.exports = async function \(context, req\)/,
    );

    const source = JSON.parse(readFileSync(join(examples, 'arm-inline.json'), 'utf8'));
    const slim = JSON.parse(readFileSync(r.templatePath!, 'utf8'));
    expect(slim.resources.map((x: { type: string }) => x.type)).toEqual(['Microsoft.Web/sites']);
    expect(JSON.stringify(slim)).not.toMatch(/"files"|"config"|module\.exports/);
    expect(slim.parameters.packageUri).toMatchObject({ type: 'securestring' });
    expect(slim.parameters.siteName).toEqual(source.parameters.siteName);
    const settings = slim.resources[0].properties.siteConfig.appSettings;
    expect(settings).toContainEqual({
      name: 'WEBSITE_RUN_FROM_PACKAGE',
      value: "[parameters('packageUri')]",
    });
    expect(settings).toContainEqual({ name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' });
    expect(settings.filter((s: { name: string }) => s.name === 'WEBSITE_RUN_FROM_PACKAGE')).toHaveLength(1);
  });

  it('is deterministic', async () => {
    const a = await build(join(examples, 'arm-inline.json'));
    const b = await build(join(examples, 'arm-inline.json'));
    expect(a.sha256).toBe(b.sha256);
  });

  function template(resources: unknown[], extra: Record<string, unknown> = {}): string {
    const path = join(tempDir(), 'azuredeploy.json');
    writeFileSync(path, JSON.stringify({ $schema: 'x', contentVersion: '1.0.0.0', resources, ...extra }));
    return path;
  }
  const site = (props: Record<string, unknown> = {}, resources?: unknown[]) => ({
    type: 'Microsoft.Web/sites',
    name: 'mysite',
    properties: props,
    ...(resources ? { resources } : {}),
  });
  const func = (name: string, props: Record<string, unknown>) => ({
    type: 'Microsoft.Web/sites/functions',
    name,
    properties: props,
  });
  const config = JSON.parse(HTTP_FUNCTION);

  it('handles nested functions, an appsettings resource and a replaced setting, and cleans dependsOn', async () => {
    const path = template([
      site({}, [
        {
          type: 'functions',
          name: 'Nested',
          properties: { config, files: { 'run.js': '[[literal bracket' } },
        },
      ]),
      func('mysite/Top', { config, files: { 'index.js': 'x', 'lib/helper.js': 'y' } }),
      {
        type: 'Microsoft.Web/sites/config',
        name: 'mysite/appsettings',
        dependsOn: ["[resourceId('Microsoft.Web/sites/functions', 'mysite', 'Top')]", 'mysite'],
        properties: { website_run_from_package: '1', OTHER: 'kept' },
      },
    ]);
    const outDir = tempDir();
    const r = await build(path, { outDir });
    expect(r.functions).toEqual(['Nested', 'Top']);
    const zip = await openZip(r.path);
    expect(await zipText(zip, 'Nested/run.js')).toBe('[literal bracket');
    expect(await zipText(zip, 'Top/lib/helper.js')).toBe('y');
    const slim = JSON.parse(readFileSync(r.templatePath!, 'utf8'));
    expect(slim.resources[0].resources).toEqual([]);
    const cfg = slim.resources.find((x: { type: string }) => x.type === 'Microsoft.Web/sites/config');
    expect(cfg.properties).toEqual({ OTHER: 'kept', WEBSITE_RUN_FROM_PACKAGE: "[parameters('packageUri')]" });
    expect(cfg.dependsOn).toEqual(['mysite']);
  });

  it.each<[string, unknown[], RegExp]>([
    ['no inline functions', [site()], /has no Microsoft\.Web\/sites\/functions resource with inline code/],
    [
      'code as an ARM expression',
      [site(), func('s/F', { config, files: { 'index.js': "[parameters('code')]" } })],
      /file index\.js is an ARM expression/,
    ],
    [
      'an expression in the config',
      [
        site(),
        func('s/F', {
          config: { bindings: [{ ...config.bindings[0], route: "[parameters('r')]" }] },
          files: {},
        }),
      ],
      /properties\.config contains the ARM expression/,
    ],
    [
      'no config',
      [site(), func('s/F', { files: { 'index.js': 'x' } })],
      /function F has no properties\.config/,
    ],
    [
      'a name that cannot be read',
      [site(), func("[parameters('fn')]", { config })],
      /cannot tell the function name from the resource name/,
    ],
    [
      'bindings the runtime rejects',
      [site(), func('s/F', { config: { bindings: [] }, files: {} })],
      /F\/function\.json has no bindings/,
    ],
    ['an unsafe file name', [site(), func('s/F', { config, files: { '../x.js': 'x' } })], /Unsafe path/],
    [
      'the same function twice',
      [site(), func('s/F', { config }), func('s/f', { config })],
      /defines the function f twice/,
    ],
  ])('refuses %s', async (_case, resources, message) => {
    await expect(build(template(resources))).rejects.toThrow(message);
  });

  it('reads names written with concat and format', async () => {
    const path = template([
      site(),
      func("[concat(parameters('siteName'), '/Alpha')]", { config }),
      func("[format('{0}/Beta', parameters('siteName'))]", { config }),
    ]);
    expect((await build(path)).functions).toEqual(['Alpha', 'Beta']);
  });

  it('warns when the template has no site to point at the package', async () => {
    const r = await build(template([func('s/F', { config })]));
    expect(r.warnings.join()).toMatch(
      /has no Microsoft\.Web\/sites resource: set WEBSITE_RUN_FROM_PACKAGE on the app yourself/,
    );
    expect(GENERATED_HOST_JSON.version).toBe('2.0');
  });

  it('refuses a .json file that is not a template, and other files', async () => {
    const notTemplate = join(tempDir(), 'settings.json');
    writeFileSync(notTemplate, '{"a":1}');
    await expect(build(notTemplate)).rejects.toThrow(/is not an ARM template/);
    const other = join(tempDir(), 'app.tar');
    writeFileSync(other, 'x');
    await expect(build(other)).rejects.toThrow(/neither a \.zip nor an ARM template/);
    await expect(build('/no/such/path')).rejects.toThrow(/does not exist/);
  });
});
