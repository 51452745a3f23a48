// A certificate authority of the test's own, and server certificates it signs for localhost and
// 127.0.0.1 (openssl, as an operator would make them for a private CA).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCa {
  dir: string;
  ca: Buffer;
  /** Signs a new server certificate into cert.pem and key.pem (overwriting them); returns its serial. */
  issueServerCert(): string;
  certFile: string;
  keyFile: string;
  close(): void;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

export function createTestCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-ca-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=Pulse test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  let serial = 0;
  const issueServerCert = () => {
    serial += 1;
    const hex = serial.toString(16).padStart(2, '0');
    openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'server.csr'],
      dir,
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
        'ca.key',
        '-set_serial',
        `0x${hex}`,
        '-days',
        '2',
        '-extfile',
        'server.ext',
        '-out',
        'cert.pem',
      ],
      dir,
    );
    return hex.toUpperCase();
  };
  issueServerCert();
  return {
    dir,
    ca: readFileSync(path.join(dir, 'ca.pem')),
    issueServerCert,
    certFile: path.join(dir, 'cert.pem'),
    keyFile: path.join(dir, 'key.pem'),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
