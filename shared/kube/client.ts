// The Kubernetes API on the shared HTTPS transport (shared/transport/https-client.ts): every
// failure a KubeError, a failure answer translated from its Status object.
import {
  type ClientOptions,
  type ErrorTranslators,
  HttpsClient,
} from '../transport/https-client.ts';
import type { ClusterConfig } from './config.ts';
import { errorFromResponse, KubeError } from './errors.ts';

export type {
  ClientOptions,
  Query,
  RawResponse,
  RequestOptions,
  RetryPolicy,
} from '../transport/https-client.ts';

const kubeErrors: ErrorTranslators = {
  fromResponse: errorFromResponse,
  fromTransport: (code, message, cause) => new KubeError(code, message, { cause }),
};

export class KubeClient extends HttpsClient {
  constructor(config: ClusterConfig, options: ClientOptions = {}) {
    super(config, kubeErrors, options);
  }
}
