// Entry point for the Functions Framework (target "label"): the only file that imports it.
import * as ff from '@google-cloud/functions-framework';
import { asHttpFunction } from '../../shared/http/functions-framework.ts';
import { createApp } from './app.ts';
import { depsFromEnv } from './config.ts';

ff.http('label', asHttpFunction(createApp(depsFromEnv(process.env)).fetch));
