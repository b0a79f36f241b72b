import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Never shipped, whatever .funcignore says: a negation there cannot bring these back. */
export const NEVER_SHIP = ['.git', '.github', '.vscode', 'local.settings.json', '.funcignore'];
const NEVER_SET = new Set(NEVER_SHIP);

export interface IgnoreRules {
  /** `rel` is '/'-separated and relative to the app root. */
  ignoresFile(rel: string): boolean;
  ignoresDir(rel: string): boolean;
  /** True when the never-ship list (not the user's rules) is what excludes it. */
  neverShips(rel: string): boolean;
  /** Which rule leaves a file out, for a message: "pattern 'x' in .funcignore", or undefined when none does. */
  excludedBy(rel: string): string | undefined;
}

/** `.funcignore` at the app root (gitignore syntax, as Core Tools reads it) plus the `exclude` input's patterns. */
export function loadIgnoreRules(root: string, exclude: readonly string[]): IgnoreRules {
  const user: Ignore = ignore();
  let funcignore: string | undefined;
  try {
    funcignore = readFileSync(join(root, '.funcignore'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (funcignore !== undefined)
    user.add(funcignore.split(/\r?\n/).map((pattern) => ({ pattern, mark: '.funcignore' })));
  const patterns = exclude.map((p) => p.trim()).filter((p) => p.length > 0 && !p.startsWith('#'));
  user.add(patterns.map((pattern) => ({ pattern, mark: "the 'exclude' input" })));
  // The walker asks about a folder before anything inside it, so the never-ship names (patterns without a
  // slash, matching at any depth) reduce to a look-up of the last segment. `ignore` costs ~3 µs a path:
  // skip it when there are no user rules.
  const hasUserRules = (funcignore !== undefined && funcignore.trim().length > 0) || patterns.length > 0;
  const never = (rel: string) => NEVER_SET.has(rel.slice(rel.lastIndexOf('/') + 1));
  return {
    ignoresFile: (rel) => never(rel) || (hasUserRules && user.ignores(rel)),
    ignoresDir: (rel) => never(rel) || (hasUserRules && user.ignores(`${rel}/`)),
    neverShips: (rel) => never(rel),
    excludedBy: (rel) => {
      if (never(rel)) return 'the list of files that never ship';
      const rule = hasUserRules ? user.test(rel).rule : undefined;
      return rule ? `pattern '${rule.pattern}' in ${rule.mark ?? 'the ignore rules'}` : undefined;
    },
  };
}
