'use strict';

// Drives deploy/stage-guard.js against a recording fake of the Google provider, so the Deployment
// Manager requests it makes can be checked without a network. Reads one scenario as JSON on stdin:
//   {"stage", "project", "env": {...}, "action": "remove" | "update",
//    "manifest": "<current DM config YAML>" | null, "update": {<params of deployments.update>}}
// and prints {"requests": [[service, resource, method, params], ...], "error": {code, message} | null}.

const path = require('path');

const StageGuard = require(path.resolve(process.argv[2] || 'deploy/stage-guard.js'));

class ServerlessError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

const run = async (scenario) => {
  const requests = [];
  const provider = {
    async request(service, resource, method, params) {
      requests.push([service, resource, method, params]);
      if (resource === 'deployments' && method === 'get') {
        if (scenario.manifest == null) throw Object.assign(new Error('not found'), { code: 404 });
        return {
          fingerprint: 'fp-1',
          manifest: `https://www.googleapis.com/deploymentmanager/v2/projects/${scenario.project}/global/deployments/d/manifests/manifest-1`,
          operation: { status: 'DONE' },
        };
      }
      if (resource === 'manifests' && method === 'get') return { config: { content: scenario.manifest } };
      return {};
    },
  };
  const serverless = {
    service: {
      service: 'etlservice',
      provider: { name: 'google', project: scenario.project, stage: 'dev' },
      custom: { stages: ['dev', 'test', 'prod'] },
    },
    classes: { Error: ServerlessError },
    cli: { log: () => {} },
    getProvider: () => provider,
  };
  const silent = { notice: () => {}, warning: () => {} };
  const guard = new StageGuard(serverless, { stage: scenario.stage }, { log: silent });
  guard.env = scenario.env || {};
  guard.pollMs = 0;
  try {
    await guard.hooks.initialize();
    if (scenario.action === 'remove') {
      await guard.hooks['before:remove:remove']();
      await provider.request('deploymentmanager', 'deployments', 'delete', { deployment: 'd' });
    } else {
      await guard.hooks['before:deploy:deploy']();
      await provider.request('deploymentmanager', 'deployments', 'update', scenario.update);
    }
    return { requests, error: null };
  } catch (error) {
    return { requests, error: { code: error.code || null, message: error.message } };
  }
};

let input = '';
process.stdin.on('data', (chunk) => {
  input += chunk;
});
process.stdin.on('end', () => {
  run(JSON.parse(input)).then((result) => process.stdout.write(JSON.stringify(result)));
});
