'use strict';

/**
 * Local Serverless plugin: keeps `sls deploy` / `sls remove` from losing data.
 *
 * Deployment Manager has no per-resource delete policy: `deletePolicy` (DELETE | ABANDON) is a
 * parameter of a whole `deployments.update` or `deployments.delete` request. So:
 *
 * - An unknown `--stage` is refused (dev | test | prod, from `custom.stages`).
 * - `remove` in prod is refused unless ETL_ALLOW_PROD_REMOVE equals the project id.
 * - `remove` (any stage) first releases the Bigtable instance and table from the deployment with
 *   an ABANDON update, then lets the provider delete the rest (functions, topics, bucket).
 *   Bigtable data therefore survives every `sls remove`; `etl reset` clears a stage's table.
 * - `deploy` (an update of an existing deployment) uses ABANDON in prod, and in any stage whose
 *   update would drop a Bigtable resource: a table is never deleted by an update.
 *
 * The provider plugin only talks to Google through `provider.request`, which is where the
 * policies are applied; every rule here is exercised offline by tests/deploy.
 */

const yaml = require('js-yaml');

const PROD = 'prod';
const ALLOW_PROD_REMOVE = 'ETL_ALLOW_PROD_REMOVE';
const BIGTABLE_TYPE_PREFIX = 'gcp-types/bigtableadmin-';
const POLL_MS = 5000;
const MAX_POLLS = 360;

const isBigtable = (resource) => String(resource.type || '').startsWith(BIGTABLE_TYPE_PREFIX);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The original design's commands take `--project` (and `--region`); Serverless v3 rejects options no plugin declares.
const SERVICE_OPTIONS = {
  project: { usage: 'Google Cloud project id (default: $GOOGLE_CLOUD_PROJECT)', type: 'string' },
  region: { usage: 'Cloud Functions region (default: us-central1)', type: 'string', shortcut: 'r' },
};
const COMMANDS_WITH_SERVICE_OPTIONS = ['package', 'deploy', 'remove', 'info', 'logs', 'invoke', 'print'];

class StageGuard {
  constructor(serverless, options, utils = {}) {
    this.serverless = serverless;
    this.options = options;
    this.log = utils.log || { notice: (m) => serverless.cli.log(m), warning: (m) => serverless.cli.log(m) };
    this.env = process.env;
    this.pollMs = POLL_MS;
    this.commands = Object.fromEntries(
      COMMANDS_WITH_SERVICE_OPTIONS.map((name) => [name, { options: SERVICE_OPTIONS }])
    );
    this.hooks = {
      initialize: () => this.checkStage(),
      'before:package:initialize': () => this.wrapProviderRequests(),
      'before:deploy:deploy': () => this.wrapProviderRequests(),
      'before:remove:remove': () => this.beforeRemove(),
    };
  }

  get stage() {
    return this.options.stage || this.serverless.service.provider.stage || 'dev';
  }

  get project() {
    return this.serverless.service.provider.project;
  }

  get deploymentName() {
    return `sls-${this.serverless.service.service}-${this.stage}`;
  }

  fail(message, code) {
    throw new this.serverless.classes.Error(message, code);
  }

  checkStage() {
    const stages = (this.serverless.service.custom || {}).stages || [];
    if (!stages.includes(this.stage)) {
      this.fail(
        `Unknown stage "${this.stage}": use --stage with one of ${stages.join(', ')}.`,
        'ETL_UNKNOWN_STAGE'
      );
    }
  }

  async beforeRemove() {
    this.checkStage();
    if (this.stage === PROD && this.env[ALLOW_PROD_REMOVE] !== this.project) {
      this.fail(
        `Refusing to remove the prod stage of project "${this.project}". ` +
          `Bigtable data is kept either way; to remove prod's functions and topics, run again with ` +
          `${ALLOW_PROD_REMOVE}=${this.project}.`,
        'ETL_PROD_REMOVE_REFUSED'
      );
    }
    await this.releaseBigtable();
  }

  /** ABANDON-update the deployment without its Bigtable resources, so `delete` cannot touch them. */
  async releaseBigtable() {
    const current = await this.currentConfig();
    if (!current) return;
    const kept = current.config.resources.filter((resource) => !isBigtable(resource));
    const released = current.config.resources.filter(isBigtable).map((resource) => resource.name);
    if (released.length === 0) return;
    this.log.notice(`Keeping Bigtable resources (${released.join(', ')}): releasing them from ${this.deploymentName}`);
    await this.google().request('deploymentmanager', 'deployments', 'update', {
      project: this.project,
      deployment: this.deploymentName,
      deletePolicy: 'ABANDON',
      resource: {
        name: this.deploymentName,
        fingerprint: current.fingerprint,
        target: { config: { content: yaml.dump({ ...current.config, resources: kept }) } },
      },
    });
    await this.waitForOperation();
  }

  /** The deployment's current config and fingerprint, or null if there is no deployment. */
  async currentConfig() {
    const request = this.google().request.bind(this.google());
    let deployment;
    try {
      deployment = await request('deploymentmanager', 'deployments', 'get', {
        project: this.project,
        deployment: this.deploymentName,
      });
    } catch (error) {
      if (error && (error.code === 404 || error.status === 404)) return null;
      throw error;
    }
    const manifest = await request('deploymentmanager', 'manifests', 'get', {
      project: this.project,
      deployment: this.deploymentName,
      manifest: String(deployment.manifest).split('/').pop(),
    });
    const config = yaml.load(manifest.config.content) || {};
    config.resources = config.resources || [];
    return { fingerprint: deployment.fingerprint, config };
  }

  async waitForOperation() {
    for (let poll = 0; poll < MAX_POLLS; poll += 1) {
      const deployment = await this.google().request('deploymentmanager', 'deployments', 'get', {
        project: this.project,
        deployment: this.deploymentName,
      });
      const operation = deployment.operation || {};
      if (operation.error && operation.error.errors && operation.error.errors.length) {
        this.fail(`Deployment Manager: ${JSON.stringify(operation.error.errors)}`, 'ETL_DM_OPERATION_FAILED');
      }
      if (operation.status === 'DONE') return;
      await sleep(this.pollMs);
    }
    this.fail(`Timed out waiting for ${this.deploymentName}`, 'ETL_DM_TIMEOUT');
  }

  google() {
    return this.serverless.getProvider('google');
  }

  /** Route the provider's `deployments.update` through `updatePolicy` (once). */
  wrapProviderRequests() {
    const provider = this.google();
    if (provider.etlStageGuard) return;
    const original = provider.request.bind(provider);
    provider.etlStageGuard = true;
    provider.request = async (...args) => {
      const [service, resource, method, params] = args;
      if (service === 'deploymentmanager' && resource === 'deployments' && method === 'update' && params) {
        const deletePolicy = await this.updatePolicy(params);
        if (deletePolicy) return original(service, resource, method, { ...params, deletePolicy });
      }
      return original(...args);
    };
  }

  /** ABANDON in prod, or when the new config drops a Bigtable resource; else the default. */
  async updatePolicy(params) {
    if (params.deletePolicy) return params.deletePolicy;
    if (this.stage === PROD) return 'ABANDON';
    const content = params.resource && params.resource.target && params.resource.target.config;
    const next = yaml.load((content && content.content) || '') || {};
    const nextNames = new Set((next.resources || []).map((resource) => resource.name));
    const current = await this.currentConfig();
    const dropped = current
      ? current.config.resources.filter((resource) => isBigtable(resource) && !nextNames.has(resource.name))
      : [];
    if (dropped.length === 0) return null;
    this.log.warning(
      `This update drops ${dropped.map((r) => r.name).join(', ')} from the config: abandoning, not deleting.`
    );
    return 'ABANDON';
  }
}

module.exports = StageGuard;
