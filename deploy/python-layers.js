'use strict';

// Lambda layers of Python packages beside serverless-python-requirements' one: a local
// Serverless Framework plugin.
//
// The pinned serverless-python-requirements (6.1.2) makes one layer, from one requirements
// file (custom.pythonRequirements: the base layer, every function). A second layer (the
// e-invoices' Saxon, factur-x, lxml and pypdf: 150 MB unzipped that only some functions
// import) is a `layers:` entry of the service whose `package.artifact` this plugin builds
// before the framework packages anything: for each `custom.pythonLayers.<layer>.fileName`,
// deploy/build_layer.py installs that pinned, hashed file with the same pip options as the
// base layer (custom.pythonRequirements.pipCmdExtraArgs: arm64, CPython 3.11, glibc 2.26)
// and the same Python (pythonBin), and zips it under python/. Nothing asks AWS; `package`
// and `deploy` both build it (cached by the requirements' hash).

const path = require('path');
const { spawnSync } = require('child_process');

class PythonLayers {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.build(),
    };
  }

  build() {
    const service = this.serverless.service;
    const custom = service.custom || {};
    const layers = custom.pythonLayers || {};
    const requirements = custom.pythonRequirements || {};
    const python = requirements.pythonBin || 'python3';
    // An item like "--implementation cp" is one option and its value.
    const pipArgs = (requirements.pipCmdExtraArgs || [])
      .flatMap((arg) => String(arg).split(/\s+/))
      .filter(Boolean);
    const serviceDir = this.serverless.serviceDir || process.cwd();
    for (const [name, options] of Object.entries(layers)) {
      const layer = (service.layers || {})[name];
      const artifact = layer && layer.package && layer.package.artifact;
      if (!artifact || !options || !options.fileName) {
        throw new this.serverless.classes.Error(
          `deploy/python-layers.js: custom.pythonLayers.${name} needs a fileName and a ` +
            `layers.${name} with package.artifact`
        );
      }
      const done = spawnSync(
        python,
        [path.join(serviceDir, 'deploy', 'build_layer.py'), options.fileName, artifact, '--', ...pipArgs],
        { cwd: serviceDir, stdio: 'inherit' }
      );
      if (done.status !== 0) {
        throw new this.serverless.classes.Error(
          `deploy/python-layers.js: building the ${name} layer from ${options.fileName} failed`
        );
      }
    }
  }
}

module.exports = PythonLayers;
