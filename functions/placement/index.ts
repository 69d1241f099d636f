// Entry point for the Functions Framework (target "placement"); settings in config.ts.
import * as ff from '@google-cloud/functions-framework';
import { asFrameworkFunction } from '../../shared/http/functions-framework.ts';
import { createApp } from './app.ts';
import { depsFromEnv } from './config.ts';

ff.http('placement', asFrameworkFunction(createApp(depsFromEnv(process.env)).fetch));
