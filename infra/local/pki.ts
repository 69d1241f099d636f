// Creates the local control plane's PKI with openssl: a CA, a serving certificate for
// 127.0.0.1/localhost, an admin client certificate (group system:masters), kube-scheduler's
// client certificate (user system:kube-scheduler, whom Kubernetes' bootstrap RBAC grants what a
// scheduler needs) and an RSA key pair that signs service-account tokens (RS256, as GKE's are).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Pki = {
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  schedulerCert: string;
  schedulerKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
};

async function openssl(dir: string, ...args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (error) {
    throw new Error(`openssl ${args[0]} failed: ${(error as { stderr?: string }).stderr ?? error}`);
  }
}

const days = '2';

async function signedCert(dir: string, name: string, subject: string, extensions: string) {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  await openssl(dir, 'req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
  await openssl(
    dir,
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key'],
    // A random serial rather than -CAcreateserial: the certificates are signed in parallel.
    ...['-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', days],
    ...['-extfile', `${name}.ext`, '-out', `${name}.crt`],
  );
}

export async function createPki(dir: string): Promise<Pki> {
  await openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  await openssl(
    dir,
    ...['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=kubefn-local-ca'],
    ...['-days', days, '-out', 'ca.crt'],
  );
  await Promise.all([
    signedCert(
      dir,
      'serving',
      '/CN=kube-apiserver',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    ),
    signedCert(dir, 'admin', '/O=system:masters/CN=kubefn-admin', 'extendedKeyUsage=clientAuth\n'),
    signedCert(dir, 'scheduler', '/CN=system:kube-scheduler', 'extendedKeyUsage=clientAuth\n'),
    openssl(dir, 'genrsa', '-out', 'sa.key', '2048').then(() =>
      openssl(dir, 'rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'),
    ),
  ]);
  const path = (file: string) => join(dir, file);
  return {
    caCert: path('ca.crt'),
    servingCert: path('serving.crt'),
    servingKey: path('serving.key'),
    adminCert: path('admin.crt'),
    adminKey: path('admin.key'),
    schedulerCert: path('scheduler.crt'),
    schedulerKey: path('scheduler.key'),
    serviceAccountKey: path('sa.key'),
    serviceAccountPublicKey: path('sa.pub'),
  };
}
