// The Google Cloud project a deployable publishes in: PUBSUB_PROJECT_ID (the emulator's
// convention) or GOOGLE_CLOUD_PROJECT, read the same way by every deployable that publishes.
import * as v from 'valibot';
import { envProblem } from '../env.ts';

export const pubsubProjectEntries = {
  PUBSUB_PROJECT_ID: v.optional(v.string()),
  GOOGLE_CLOUD_PROJECT: v.optional(v.string()),
};

/** The project, or an EnvError naming both variables (the deploy fails). */
export function pubsubProject(
  deployable: string,
  env: { PUBSUB_PROJECT_ID?: string | undefined; GOOGLE_CLOUD_PROJECT?: string | undefined },
): string {
  const projectId = env.PUBSUB_PROJECT_ID ?? env.GOOGLE_CLOUD_PROJECT;
  if (!projectId)
    throw envProblem(deployable, 'PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT', 'required');
  return projectId;
}
