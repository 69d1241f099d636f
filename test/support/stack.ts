// The one place tests read the local stack that global-setup.ts started for their project:
// addresses, credentials' files, the Pub/Sub emulator, and the fault-injection endpoint.
import { inject } from 'vitest';

export const stack = inject('stack');
/** Base URL of global-setup's control endpoint (restart kube-apiserver). */
export const stackControl = inject('stackControl');
/** Control URL of the fake Google identity service that kube-apiserver's token webhook asks. */
export const googleIdentity = inject('googleIdentity');
