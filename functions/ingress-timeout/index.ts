// Entry point for the Functions Framework (target "ingress-timeout"): the only file that imports it. The
// settings are read now (a mistake throws here, so the framework cannot load the target and the
// deploy fails naming the variable); the network work is a promise the first request awaits.
import * as ff from '@google-cloud/functions-framework';
import { asFrameworkFunction } from '../../shared/http/functions-framework.ts';
import { createApp } from './app.ts';
import { depsFromEnv } from './config.ts';

ff.http('ingress-timeout', asFrameworkFunction(createApp(depsFromEnv(process.env)).fetch));
