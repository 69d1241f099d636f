// The signup backend under the real Functions Framework, in front of a running provision function.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFunctions } from '../../infra/build-functions.ts';
import { type RunningFunction, startFunction } from '../../infra/local/functions.ts';
import { stack } from './cluster.ts';
import { provisionAudience } from './provision.ts';

export async function startSignup(
  provisionUrl: string,
  callerToken: string,
): Promise<RunningFunction> {
  const tokenFile = join(stack.dir, `signup-${process.pid}.token`);
  await writeFile(tokenFile, callerToken, { mode: 0o600 });
  const outputs = await buildFunctions(['signup']);
  return startFunction({
    stateDir: stack.dir,
    target: 'signup',
    source: outputs.signup ?? '',
    env: {
      KUBEFN_PROVISION_URL: provisionUrl,
      KUBEFN_PROVISION_AUDIENCE: provisionAudience,
      KUBEFN_CALLER_TOKEN_FILE: tokenFile,
    },
  });
}
