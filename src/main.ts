import * as core from '@actions/core';
import { coreHost, failStep } from './action/core-host.js';
import { runAction } from './action/run.js';

core.info('Edgeship: multi-arch edge release');
runAction(coreHost()).catch(failStep);
