// The test and start commands on a machine that lacks something (prerequisites.sh, run by
// build.sh): PATH and the looked-for paths are arranged so Chromium (or an emulator, or Go) is
// not found and all else is; `id` and `apt-get` are stand-ins on PATH, so no test needs root or
// changes the machine. As a user: it stops at once with the exact command. As root: it installs the Debian
// packages with apt-get, and checks again.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const root = join(import.meta.dirname, '../..');
const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;
/** What an npm script runs before its main command: `bash infra/local/build.sh ...`. */
const preamble = (script: 'test' | 'start') => {
  const line = scripts[script] ?? '';
  return line.slice(0, line.lastIndexOf(' && '));
};

const dir = mkdtempSync(join(tmpdir(), 'kubefn-prereq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const aptLog = join(dir, 'apt-get.log');
const chromium = join(dir, 'missing', 'chromium');
const stubs = join(dir, 'stubs');
const script = (name: string, body: string) => {
  writeFileSync(join(stubs, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(stubs, name), 0o755);
};
spawnSync('mkdir', ['-p', stubs, dirname(chromium)]);
script('id', '[ "$1" = -u ] && echo "$FAKE_UID" || exec /usr/bin/id "$@"');
// Records each call; `install` "installs" Chromium where the test looks for it, if told to.
script(
  'apt-get',
  `echo "$*" >> ${aptLog}
case "$*" in *install*chromium*) [ -n "$FAKE_INSTALLS" ] && printf '#!/bin/sh\\n' > ${chromium} && chmod +x ${chromium};; esac
exit 0`,
);
// Everything else is there, whatever this machine has: Go of the pinned version, Java, openssl, the
// emulators' launchers.
const goVersion = /^go (\S+)$/m.exec(
  readFileSync(join(root, 'infra/local/go/go.mod'), 'utf8'),
)?.[1];
script('go', `[ "$*" = "env GOVERSION" ] && echo go${goVersion}`);
script('java', 'exit 0');
script('openssl', 'exit 0');
script('cloud-pubsub-emulator', 'exit 0');
script('cloud_firestore_emulator', 'exit 0');
// A machine without Go: only what the script needs before its Go check.
const noGo = join(dir, 'no-go');
spawnSync('mkdir', ['-p', noGo]);
for (const tool of ['bash', 'dirname', 'awk', 'sed', 'sort', 'head']) {
  const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(found, join(noGo, tool));
}

type Run = { status: number | null; out: string; apt: string[]; ms: number };
function run(command: string, env: Record<string, string>): Run {
  rmSync(aptLog, { force: true });
  rmSync(chromium, { force: true });
  const begun = Date.now();
  const result = spawnSync('bash', ['-c', command], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      ...process.env,
      PATH: `${stubs}:${process.env.PATH}`,
      KUBEFN_CHROMIUM: chromium,
      KUBEFN_PUBSUB_EMULATOR: join(stubs, 'cloud-pubsub-emulator'),
      KUBEFN_FIRESTORE_EMULATOR: join(stubs, 'cloud_firestore_emulator'),
      // build.sh, should it get past the check, must not touch the real control-plane cache.
      KUBEFN_CACHE: join(dir, 'cache'),
      FAKE_UID: '1000',
      ...env,
    },
  });
  let apt: string[] = [];
  try {
    apt = readFileSync(aptLog, 'utf8').trim().split('\n');
  } catch {}
  return {
    status: result.status,
    out: `${result.stdout}${result.stderr}`,
    apt,
    ms: Date.now() - begun,
  };
}

test('npm test without Chromium, as a user: stops at once with the exact command', () => {
  const r = run(preamble('test'), { npm_lifecycle_event: 'test' });
  expect(r.out).toContain('sudo apt-get update && sudo apt-get install -y chromium\n');
  expect(r.status).toBe(1);
  expect(r.ms).toBeLessThan(5_000);
  expect(r.apt).toEqual([]);
});

test('npm test without Chromium, as root: installs the Debian package, then goes on', () => {
  const installed = run('bash infra/local/prerequisites.sh test', {
    FAKE_UID: '0',
    FAKE_INSTALLS: '1',
  });
  expect(installed.apt).toEqual(['update -qq', 'install -y -qq chromium']);
  expect(installed.status).toBe(0);
  // An install that did not bring it is a failure, not a later surprise.
  const notInstalled = run('bash infra/local/prerequisites.sh test', { FAKE_UID: '0' });
  expect(notInstalled.status).toBe(1);
  expect(notInstalled.out).toContain('still missing: chromium');
});

test('npm start does not need Chromium, but stops at once without the Pub/Sub emulator', () => {
  expect(run('bash infra/local/prerequisites.sh start', {}).status).toBe(0);
  const r = run(preamble('start'), {
    npm_lifecycle_event: 'start',
    KUBEFN_PUBSUB_EMULATOR: join(dir, 'missing', 'cloud-pubsub-emulator'),
  });
  expect(r.out).toContain(
    'sudo apt-get update && sudo apt-get install -y google-cloud-cli-pubsub-emulator\n',
  );
  expect(r.out).not.toContain('chromium');
  expect(r.status).toBe(1);
  expect(r.ms).toBeLessThan(5_000);
  expect(r.apt).toEqual([]);
  // Two runs of the script: the bound that matters is the second's, above; vitest's own 5 s for
  // both was missed at load 10 on 2 cores.
}, 30_000);

test('the emulator with no apt repository that has it: the repository is named, even as root', () => {
  script('apt-cache', 'echo "google-cloud-cli-pubsub-emulator:"; echo "  Candidate: (none)"');
  try {
    const r = run('bash infra/local/prerequisites.sh start', {
      FAKE_UID: '0',
      KUBEFN_PUBSUB_EMULATOR: join(dir, 'missing', 'cloud-pubsub-emulator'),
    });
    expect(r.status).toBe(1);
    expect(r.out).toContain('https://packages.cloud.google.com/apt cloud-sdk main');
    expect(r.out).toContain(
      'apt-get update && apt-get install -y google-cloud-cli-pubsub-emulator',
    );
    expect(r.apt).toEqual([]);
  } finally {
    rmSync(join(stubs, 'apt-cache'));
  }
});

test("npm start without the Firestore emulator (placement's store): the exact command, or the repository", () => {
  const missing = { KUBEFN_FIRESTORE_EMULATOR: join(dir, 'missing', 'cloud_firestore_emulator') };
  const r = run('bash infra/local/prerequisites.sh start', missing);
  expect(r.out).toContain(
    'sudo apt-get update && sudo apt-get install -y google-cloud-cli-firestore-emulator\n',
  );
  expect(r.status).toBe(1);
  expect(r.apt).toEqual([]);
  script('apt-cache', 'echo "google-cloud-cli-firestore-emulator:"; echo "  Candidate: (none)"');
  try {
    const root = run('bash infra/local/prerequisites.sh start', { ...missing, FAKE_UID: '0' });
    expect(root.status).toBe(1);
    expect(root.out).toContain('https://packages.cloud.google.com/apt cloud-sdk main');
    expect(root.out).toContain('apt-get install -y google-cloud-cli-firestore-emulator');
    expect(root.apt).toEqual([]);
  } finally {
    rmSync(join(stubs, 'apt-cache'));
  }
}, 30_000);

test('without Go: says where to get the version the pinned release needs', () => {
  const r = run('bash infra/local/prerequisites.sh start', { PATH: noGo });
  expect(r.status).toBe(1);
  expect(r.out).toContain('Go is not installed');
  expect(r.out).toContain(`https://go.dev/dl/`);
  expect(r.out).toContain(`go${goVersion}.linux-amd64.tar.gz`);
});
