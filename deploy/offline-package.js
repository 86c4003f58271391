'use strict';

// `serverless package` without AWS: a local Serverless Framework plugin.
//
// Packaging a service that has a Lambda layer (the Python packages' layer of
// serverless-python-requirements) asks CloudFormation for the deployed stack, to re-use
// the layer's S3 object when its hash has not changed. That is the only AWS call of
// `serverless package` here (configuration and secrets are CloudFormation dynamic
// references), and it fails without credentials or network. For the `package` command
// alone this plugin skips that comparison: the artifacts and the template are the same,
// the layer's S3 key is simply the new one. `serverless deploy` still compares, so an
// unchanged layer is not uploaded again.

class OfflinePackage {
  constructor(serverless) {
    const commands = (serverless.processedInput && serverless.processedInput.commands) || [];
    if (commands.length !== 1 || commands[0] !== 'package') return;
    const layers = serverless.pluginManager.plugins.find(
      (plugin) => plugin.constructor && plugin.constructor.name === 'AwsCompileLayers'
    );
    if (!layers || typeof layers.compareWithLastLayer !== 'function') {
      throw new serverless.classes.Error(
        'deploy/offline-package.js: this CLI has no AwsCompileLayers.compareWithLastLayer; ' +
          'check the plugin against the CLI version of package.json'
      );
    }
    layers.compareWithLastLayer = async () => undefined;
  }
}

module.exports = OfflinePackage;
