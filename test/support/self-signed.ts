// A throwaway self-signed certificate (PEM, one day, no key kept), for tests that need a CA the
// way a cluster hands one out.
import { execFileSync } from 'node:child_process';

export function selfSignedPem(commonName: string): string {
  const out = execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-subj',
      `/CN=${commonName}`,
      '-days',
      '1',
      '-keyout',
      '/dev/null',
    ]),
    { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] },
  );
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(out)?.[0];
  if (!pem) throw new Error('openssl made no certificate');
  return pem;
}
