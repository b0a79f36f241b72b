import { describe, expect, it } from 'vitest';
import { pythonV2Functions } from '../../src/package/python.js';

// How function names are read from Python v2 decorators: one syntax rule per row.

const one = (text: string) =>
  pythonV2Functions('function_app.py', (f) => (f === 'function_app.py' ? text : undefined));
const app = (files: Record<string, string>) => pythonV2Functions('function_app.py', (f) => files[f]);

describe('pythonV2Functions: decorators and defs', () => {
  it.each<[string, string, string[]]>([
    ['a route', '@app.route(route="x")\ndef x(req):\n    pass\n', ['x']],
    ['a schedule on a blueprint', '@bp.schedule(schedule="*")\ndef tick(t):\n    pass\n', ['tick']],
    ['any *_trigger', '@app.blob_trigger(arg_name="b", path="c")\ndef on_blob(b):\n    pass\n', ['on_blob']],
    ['spaces after @ and around the dot', '@ app . route (route="x")\ndef x(r):\n    pass\n', ['x']],
    ['a decorator and a def ending in spaces', '@app.route(route="x")  \ndef x(r):  \n    pass\n', ['x']],
    ['a decorator and a def ending in a tab', '@app.route(route="x")\t\ndef x(r):\t\n    pass\n', ['x']],
    ['an async def with extra spaces', '@app.route(route="x")\nasync  def   x  (r):\n    pass\n', ['x']],
    [
      'a blank line, a blank line of spaces and comments between decorator and def',
      '@app.route(route="x")\n\n   \n# note\n   # indented note\ndef x(r):\n    pass\n',
      ['x'],
    ],
    [
      'a decorated class ends the decorators: the def after it is no function',
      '@app.route(route="c")\nclass C:\n    pass\ndef helper():\n    pass\n',
      [],
    ],
    ['a statement after a decorator ends it', '@app.route(route="x")\nx = 1\ndef helper():\n    pass\n', []],
    [
      'a trigger named only in a comment is none',
      '@staticmethod  # not @app.route(route="x")\ndef s():\n    pass\n',
      [],
    ],
    [
      'arguments over several lines, with brackets inside strings and comments',
      '@app.route(route="a(b",  # see (docs\n    methods=["GET"])\n@app.function_name(name="Named")\ndef a(r):\n    pass\n',
      ['Named'],
    ],
    [
      'a string with an escaped quote inside the arguments',
      "@app.route(route='it\\'s (here')\ndef x(r):\n    pass\n",
      ['x'],
    ],
    [
      'an indented decorator and def inside a class are not top level',
      'class K:\n    @app.route(route="i")\n    def inner(x):\n        pass\n',
      [],
    ],
    [
      'an indented def after a top-level decorator is not top level',
      '@app.route(route="x")\n\tdef x(r):\n        pass\n',
      [],
    ],
  ])('%s', (_name, text, expected) => {
    expect(one(text)).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['name=', '@app.function_name(name="N")', 'N'],
    ['name = with spaces', '@app.function_name( name = "N" )', 'N'],
    ['a positional name', "@app.function_name('N')", 'N'],
    ['spaces after @ and around the dot', '@ app . function_name ("N")', 'N'],
  ])(
    'function_name with %s wins over the def name, before or after the trigger',
    (_name, decorator, name) => {
      expect(one(`${decorator}\n@app.route(route="x")\ndef x(r):\n    pass\n`)).toEqual([name]);
      expect(one(`@app.route(route="x")\n${decorator}\ndef x(r):\n    pass\n`)).toEqual([name]);
    },
  );

  it('a function_name named only in a comment does not rename', () => {
    expect(one('@app.route(route="x")  # was @app.function_name(name="Old")\ndef x(r):\n    pass\n')).toEqual(
      ['x'],
    );
  });

  it('sorted, once each', () => {
    expect(
      one(
        '@app.route(route="b")\ndef b(r):\n    pass\n@app.route(route="a")\ndef a(r):\n    pass\n@app.function_name(name="a")\n@app.route(route="c")\ndef c(r):\n    pass\n',
      ),
    ).toEqual(['a', 'b']);
  });
});

describe('pythonV2Functions: imported blueprints', () => {
  const jobs = '@bp.schedule(schedule="*")\ndef nightly(t):\n    pass\n';

  it.each([
    ['import jobs', { 'jobs.py': jobs }],
    ['import  jobs', { 'jobs.py': jobs }],
    ['import blueprints.jobs', { 'blueprints/jobs.py': jobs }],
    ['from jobs import bp', { 'jobs.py': jobs }],
    ['from  blueprints.jobs  import  bp', { 'blueprints/jobs.py': jobs }],
  ])('%s', (line, files) => {
    expect(app({ 'function_app.py': `${line}\n`, ...files })).toEqual(['nightly']);
  });

  it('an import inside a function or a comment is not followed', () => {
    expect(
      app({ 'function_app.py': 'def load():\n    import jobs\n# import jobs\n', 'jobs.py': jobs }),
    ).toEqual([]);
  });

  it('a blueprint whose name cannot be read makes the whole list unknown', () => {
    expect(
      app({
        'function_app.py': 'import jobs\n@app.route(route="x")\ndef x(r):\n    pass\n',
        'jobs.py': '@bp.function_name(name=computed())\n@bp.schedule(schedule="*")\ndef n(t):\n    pass\n',
      }),
    ).toBeUndefined();
  });
});
