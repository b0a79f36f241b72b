import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCerts } from '../../sandbox/certs.js';

/**
 * Runs once in the main vitest process, before workers are forked: the sandbox CA is created here and
 * handed to every worker (and every child process they spawn) through NODE_EXTRA_CA_CERTS, the way
 * a runner trusts a private CA. Workers inherit process.env at fork time.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'afpd-certs-'));
  const certs = ensureCerts(dir);
  process.env.NODE_EXTRA_CA_CERTS = certs.caFile;
  process.env.SANDBOX_CERT_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
