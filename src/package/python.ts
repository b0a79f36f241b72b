/**
 * Function names of a Python v2 app, read statically from its decorators (the host indexes them by running the
 * script; here nothing runs). A function is a `def` under a trigger decorator (`@app.route`, `@app.*_trigger`,
 * `@bp.schedule`, …); its name is the `function_name` decorator's, else the Python function's. Blueprints count
 * when the entry script imports them. Undefined when a name cannot be read (a computed `function_name`).
 */
export function pythonV2Functions(
  entry: string,
  source: (module: string) => string | undefined,
): string[] | undefined {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): boolean => {
    if (seen.has(file)) return true;
    seen.add(file);
    const text = source(file);
    if (text === undefined) return true;
    const found = decoratedFunctions(text);
    if (found === undefined) return false;
    for (const name of found) names.add(name);
    for (const module of localImports(text)) if (!visit(`${module.replace(/\./g, '/')}.py`)) return false;
    return true;
  };
  return visit(entry) ? [...names].sort() : undefined;
}

const TRIGGER = /^@\s*\w+\s*\.\s*(?:route|schedule|[a-z_]*trigger)\s*\(/;
const FUNCTION_NAME = /^@\s*\w+\s*\.\s*function_name\s*\(\s*(?:name\s*=\s*)?(?:(['"])([^'"]+)\1)?/;
const DEF = /^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/;

function decoratedFunctions(text: string): string[] | undefined {
  const out: string[] = [];
  let decorators: string[] = [];
  let depth = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    // Decorator arguments may span lines; only a decorator's first line at depth 0 starts one.
    if (depth > 0) {
      depth += balance(line);
      continue;
    }
    if (line.startsWith('@') && !raw.startsWith(' ') && !raw.startsWith('\t')) {
      decorators.push(line);
      depth = Math.max(0, balance(line));
      continue;
    }
    const def = DEF.exec(line);
    if (def && !raw.startsWith(' ') && !raw.startsWith('\t')) {
      if (decorators.some((d) => TRIGGER.test(d))) {
        const named = decorators.map((d) => FUNCTION_NAME.exec(d)).find((m) => m !== null);
        if (named && named[2] === undefined) return undefined;
        out.push(named?.[2] ?? (def[1] as string));
      }
      decorators = [];
    } else if (line !== '' && !line.startsWith('#')) decorators = [];
  }
  return out;
}

function balance(line: string): number {
  const code = line.replace(/(['"])(?:\\.|(?!\1).)*\1/g, '').replace(/#.*$/, '');
  return (code.match(/[([{]/g)?.length ?? 0) - (code.match(/[)\]}]/g)?.length ?? 0);
}

/** Top-level `import x` / `from x import y` of modules that may live in the package (not `from . import`). */
function localImports(text: string): string[] {
  const modules: string[] = [];
  for (const m of text.matchAll(/^(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([A-Za-z_][\w.]*))/gm)) {
    const module = m[1] ?? m[2];
    if (module) modules.push(module);
  }
  return modules;
}
