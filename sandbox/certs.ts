import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';

/** PEM files of the sandbox's own certificate authority and the loopback server certificate it signed. */
export interface SandboxCerts {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Creates (once per directory) a CA and a server certificate for 127.0.0.1 / localhost / ::1.
 * Every sandbox server presents the same server certificate; clients trust the CA through NODE_EXTRA_CA_CERTS.
 */
export function ensureCerts(dir: string): SandboxCerts {
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  if (!existsSync(caFile) || !existsSync(certFile) || !existsSync(keyFile)) {
    const subj = '/CN=azure-functions-package-deploy sandbox CA';
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca-key.pem',
        '-out',
        'ca.pem',
        '-days',
        '30',
        '-subj',
        subj,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    openssl(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'server-key.pem',
        '-out',
        'server.csr',
        '-subj',
        '/CN=127.0.0.1',
      ],
      dir,
    );
    writeFileSync(
      join(dir, 'server.ext'),
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-out',
        'server.pem',
        '-days',
        '30',
        '-extfile',
        'server.ext',
      ],
      dir,
    );
  }
  return {
    dir,
    caFile,
    certFile,
    keyFile,
    ca: readFileSync(caFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  };
}

/**
 * Makes this process trust the sandbox CA (the sandbox's own clients: Azurite container setup, the platform's
 * package fetch). Child processes get it through NODE_EXTRA_CA_CERTS instead, as a runner would.
 */
export function trustInThisProcess(certs: SandboxCerts): void {
  const current = tls.getCACertificates('default');
  if (!current.includes(certs.ca)) tls.setDefaultCACertificates([...current, certs.ca]);
}
